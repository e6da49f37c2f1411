using Sluice.Cli.Commands;
using Sluice.Cli.Reference;

namespace Sluice.Cli;

/// <summary>The `sluice` executable: parses the verb and hands over; errors become one line.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        InlineSocketCompletions();
        CommandLine? parsed = null;
        try
        {
            parsed = CommandLine.Parse(args);
            if (parsed.WantsHelp && parsed.Verb is not ("" or "help" or "--help" or "-h")) return VerbUsage(parsed.Verb);
            return parsed.Verb switch
            {
                "run" => RunCommand.Execute(parsed),
                "check" => CheckCommand.Execute(parsed),
                "demo" => DemoCommand.Execute(parsed),
                "gate" => GateCommand.Execute(parsed),
                "exec" => ExecCommand.Execute(parsed),
                "kill-apps" => KillAppsCommand.Execute(parsed),
                "import" => ImportCommand.Execute(parsed),
                "daemon" => DaemonCommand.Execute(parsed),
                "up" => UpCommand.Execute(parsed),
                "down" => DownCommand.Execute(parsed),
                "reload" => UpCommand.Reload(parsed),
                "status" => StatusCommand.Execute(parsed),
                "connections" => ConnectionsCommand.Execute(parsed),
                "servers" => ServersCommand.Execute(parsed),
                "apps" => AppsCommand.Execute(parsed),
                "logs" => LogsCommand.Execute(parsed),
                "rule-set" => RuleSetCommand.Execute(parsed),
                "mode" => ModeCommand.Execute(parsed),
                "version" or "--version" => VersionCommand.Execute(),
                "device-id" => DeviceIdCommand.Execute(parsed),
                "doctor" => DoctorCommand.Execute(parsed),
                "completions" => ReferenceCommand.Completions(parsed),
                "man" => ReferenceCommand.Man(parsed),
                "" => StatusCommand.WhereAmI(parsed),
                "help" or "--help" or "-h" => Usage(Console.Out, 0),
                _ => throw new UsageException($"unknown command \"{parsed.Verb}\""),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"sluice: {e.Message}");
            Console.Error.WriteLine("run `sluice help` for the list of commands");
            return 2;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(parsed?.Debug == true ? e.ToString() : $"sluice: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Runs socket continuations on the runtime's epoll threads (one per core) instead of handing each
    /// to the thread pool: a relay is a chain of short continuations, and on small machines the hop
    /// (a futex wake and a context switch each) cost more CPU per proxied connection than the work.
    /// Read once, when the first socket is made, so it must be set before any; a value the user set wins.
    /// Nothing in the engine blocks inside a socket continuation.
    /// </summary>
    private static void InlineSocketCompletions()
    {
        const string name = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
        if (Environment.GetEnvironmentVariable(name) is null) Environment.SetEnvironmentVariable(name, "1");
        // With inline completions the runtime starts one epoll thread per core and deals sockets to them
        // in turn, so the two sockets of a relayed connection always land on different threads and every
        // hand-over between them is a cross-core wake-up. One thread per four cores keeps a
        // connection's sockets together on small machines (-20 % CPU per proxied connection on two
        // cores) and still spreads the load on big ones.
        const string threads = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";
        if (Environment.GetEnvironmentVariable(threads) is null)
            Environment.SetEnvironmentVariable(threads, Math.Max(1, Environment.ProcessorCount / 4).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static int VerbUsage(string verb)
    {
        string? help = CommandTable.HelpOf(verb);
        if (help is null) throw new UsageException($"unknown command \"{verb}\"");
        Console.Out.WriteLine(help);
        return 0;
    }

    private static int Usage(TextWriter output, int code)
    {
        output.WriteLine(CommandTable.Help());
        return code;
    }
}
