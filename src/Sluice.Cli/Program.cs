using Sluice.Cli.Commands;

namespace Sluice.Cli;

/// <summary>The `sluice` executable: parses the verb and hands over; errors become one line.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var parsed = CommandLine.Parse(args);
        try
        {
            return parsed.Verb switch
            {
                "run" => RunCommand.Execute(parsed),
                "check" => CheckCommand.Execute(parsed),
                "demo" => DemoCommand.Execute(parsed),
                "version" or "--version" => VersionCommand.Execute(),
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

    private static int Usage(TextWriter output, int code)
    {
        output.WriteLine("""
            usage: sluice <command> [options]

              run -c CONFIG      run the engine in the foreground (Ctrl-C / SIGTERM stops it)
              check -c CONFIG    validate a config; prints one `path: problem` line per error
              demo [--keep]      build a namespace testbed and show per-app routing with real processes
              version            print the version

            options: --debug shows stack traces on errors
            """);
        return code;
    }
}
