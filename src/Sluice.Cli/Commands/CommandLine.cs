namespace Sluice.Cli.Commands;

/// <summary>A wrong command line; printed as one line with exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The verb, its options (-c/--config …) and flags; no framework needed for this few.</summary>
internal sealed class CommandLine
{
    private static readonly Dictionary<string, string> Aliases = new()
    {
        ["-c"] = "--config",
        ["-o"] = "--output",
        ["-f"] = "--follow",
        ["-h"] = "--help",
    };

    private static readonly HashSet<string> Flags = ["--debug", "--keep", "--json", "--yes", "--kill-apps", "--watch", "--ping", "--follow", "--links", "--fix", "--help"];

    /// <summary>Options whose value may be left out (`up --pick` asks; `up --pick NAME` does not): then the value is "".</summary>
    private static readonly HashSet<string> OptionalValues = ["--pick"];

    public string Verb { get; private init; } = "";

    public Dictionary<string, string> Options { get; } = new();

    public HashSet<string> SetFlags { get; } = [];

    public List<string> Arguments { get; } = [];

    public bool Debug => SetFlags.Contains("--debug");

    /// <summary>`sluice VERB --help` (or -h): that verb's lines of the command table, not the verb's work.</summary>
    public bool WantsHelp => SetFlags.Contains("--help");

    public static CommandLine Parse(string[] args)
    {
        var line = new CommandLine { Verb = args.Length > 0 ? args[0] : "" };
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--")
            {
                // Everything after "--" is a command to run (`sluice exec -- CMD ARGS`), never options.
                line.Arguments.AddRange(args[(i + 1)..]);
                break;
            }
            string arg = Aliases.GetValueOrDefault(args[i], args[i]);
            if (Flags.Contains(arg))
            {
                line.SetFlags.Add(arg);
            }
            else if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                int eq = arg.IndexOf('=');
                if (eq > 0) line.Options[arg[..eq]] = arg[(eq + 1)..];
                else if (OptionalValues.Contains(arg) && (i + 1 >= args.Length || args[i + 1].StartsWith('-'))) line.Options[arg] = "";
                else if (i + 1 < args.Length) line.Options[arg] = args[++i];
                else throw new UsageException($"{args[i]} needs a value");
            }
            else
            {
                line.Arguments.Add(args[i]);
            }
        }
        return line;
    }

    public string Require(string option, string what) =>
        Options.TryGetValue(option, out var value) ? value : throw new UsageException($"{option} {what} is required");

    /// <summary>Options this verb does not know are an error, not silently ignored.</summary>
    public void AllowOnly(params string[] options)
    {
        foreach (var key in Options.Keys)
            if (!options.Contains(key)) throw new UsageException($"{Verb}: unknown option {key}");
    }
}
