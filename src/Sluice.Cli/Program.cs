using Sluice.Cli.Commands;

namespace Sluice.Cli;

/// <summary>The `sluice` executable: parses the verb and hands over; errors become one line.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        InlineSocketCompletions();
        var parsed = CommandLine.Parse(args);
        try
        {
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
                "help" or "--help" or "-h" or "" => Usage(Console.Out, 0),
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
            Console.Error.WriteLine(parsed.Debug ? e.ToString() : $"sluice: {e.Message}");
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

    private static int Usage(TextWriter output, int code)
    {
        output.WriteLine("""
            usage: sluice <command> [options]

              run -c CONFIG      run the engine in the foreground (Ctrl-C / SIGTERM stops it)
              check -c CONFIG    validate a config; prints one `path: problem` line per error
              import SRC [-o F]  turn a wg-quick file into a config (stdout, or written atomically to F)
              import SRC --links print the servers SRC holds as share links (ss://, socks5://), one a line
              demo               build a namespace testbed and show per-app routing with real processes
              gate apply -c CONFIG         load the config's fail-shut gate now (docs/gate.md)
              gate enable -c CONFIG        apply it and install the boot unit (--root DIR: another root)
              gate disable [--yes] [--kill-apps] [--grace S]   open the gate, remove the boot unit
              gate status [-c CONFIG]      what the gate holds, and what it cannot
              exec --lane protected [--user U] -- CMD   run CMD in the protected cgroup (as the sudo user, or U)
              kill-apps [--grace S]        end the protected apps (SIGTERM, then SIGKILL)
              daemon [-c CONFIG]           the service: engine + API (unix socket, http 127.0.0.1:1777) + /ui
              daemon unit|install|uninstall [-c CONFIG] [--root DIR]   its systemd unit (docs/api.md)
              up [-c CONFIG] [--server NAME]   bring a config up through the daemon
                 [--pick [NAME]]           choose this session's server: listed with protocol, TCP only/TCP+UDP, latency
              down                         stop the engine (the gate stays)
              reload                       restart the engine with its config re-read
              status [--json] [--watch]    state, lanes, gate; --watch: live per-app speeds and sparklines
              connections [--json] [--close ID|all]   live flows with app, path and lane
              servers [--ping [--url URL]] [--json]   outbounds and groups, with delays
              apps [add [-c CONFIG] [--lane TAG] [NAME...]]   per-app traffic; put apps on a lane
              logs [-f] [--level L]        the daemon's log
              mode [rule|global|direct]    the Clash mode clash_mode rules match (switches new flows at once)
              rule-set compile SRC.json [-o F.srs] | decompile F.srs [-o F.json] | match SET DOMAIN|IP
              rule-set convert LIST.txt [-o F.srs|F.json]   a plain domain/CIDR list into a rule set
              version            print the version
              device-id          print this machine's stable Sluice id (an app-specific HMAC of /etc/machine-id)

            options: --debug shows stack traces on errors
            daemon verbs: --socket PATH (SLUICE_SOCKET) or --api URL --secret-file F; exit 0 ok,
              1 refused/failed, 2 usage, 3 daemon unreachable, 4 status: not connected
            """);
        return code;
    }
}
