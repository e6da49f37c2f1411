using System.Text;
using Sluice.Core.Configuration;
using Sluice.Core.RuleSets;
using Sluice.Core.RuleSets.Srs;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice rule-set compile|decompile|match|convert`: the tools sing-box users know, for .srs and JSON
/// source sets. Output files are written atomically; without -o a file goes next to its input with
/// the other extension (as sing-box does), "-o -" writes to stdout.
/// </summary>
internal static class RuleSetCommand
{
    public static int Execute(CommandLine line)
    {
        string verb = line.Arguments.Count > 0 ? line.Arguments[0] : "";
        var args = line.Arguments.Skip(1).ToList();
        return verb switch
        {
            "compile" => Compile(line, args),
            "decompile" => Decompile(line, args),
            "match" => Match(line, args),
            "convert" => Convert(line, args),
            _ => throw new UsageException("rule-set: compile SOURCE.json [-o OUT.srs] | decompile SET.srs|SET.mrs [-o OUT.json] | match SET DOMAIN|IP | convert LIST.txt [--from clash-domain|clash-ipcidr|clash-classical] [-o OUT.srs|OUT.json]"),
        };
    }

    private static int Compile(CommandLine line, List<string> args)
    {
        line.AllowOnly("--output");
        string input = One(args, "compile SOURCE.json");
        var content = RuleSetBody.ReadFile(input, RuleSetFormat.Source);
        byte[] bytes = SrsWriter.Write(content);
        string output = Output(line, input, ".srs");
        Write(output, bytes);
        if (output != "-") Console.Error.WriteLine($"{output}: version {bytes[3]}, {content.Summary()}");
        return 0;
    }

    private static int Decompile(CommandLine line, List<string> args)
    {
        line.AllowOnly("--output");
        string input = One(args, "decompile SET.srs|SET.mrs");
        var content = RuleSetBody.ReadFile(input, input.EndsWith(".mrs", StringComparison.OrdinalIgnoreCase) ? RuleSetFormat.Mrs : RuleSetFormat.Binary);
        Write(Output(line, input, ".json"), Encoding.UTF8.GetBytes(SourceRuleSetWriter.Write(content)));
        return 0;
    }

    /// <summary>Exit 0 and the matching rule, or exit 1 and "no match".</summary>
    private static int Match(CommandLine line, List<string> args)
    {
        line.AllowOnly();
        if (args.Count != 2) throw new UsageException("rule-set match SET DOMAIN|IP");
        var content = RuleSetBody.ReadFile(args[0]);
        int index = RuleSetQuery.FirstMatch(content, args[1]);
        if (index < 0)
        {
            Console.WriteLine($"{args[1]}: no match");
            return 1;
        }
        Console.WriteLine($"{args[1]}: match rules[{index}]: {SourceRuleSetWriter.WriteRule(content.Rules[index])}");
        return 0;
    }

    private static int Convert(CommandLine line, List<string> args)
    {
        line.AllowOnly("--output", "--from");
        string input = One(args, "convert LIST.txt [--from clash-domain|clash-ipcidr|clash-classical]");
        string text = input == "-" ? Console.In.ReadToEnd() : File.ReadAllText(input);
        RuleSetFormat? from = null;
        if (line.Options.GetValueOrDefault("--from") is { } fromText)
        {
            if (!RuleSetBody.TryParseName(fromText, out var named) || named is RuleSetFormat.Source or RuleSetFormat.Binary or RuleSetFormat.Mrs)
                throw new UsageException($"rule-set convert --from {fromText}: expected clash-domain, clash-ipcidr or clash-classical (a Clash rule provider's behavior)");
            from = named;
        }
        RuleSetContent content;
        try
        {
            content = from is { } format ? RuleSetBody.Parse(Encoding.UTF8.GetBytes(text), format) : PlainListConverter.Convert(text.Split('\n'));
        }
        catch (RuleSetFormatException e)
        {
            throw new RuleSetFormatException($"{input}: {e.Message}");
        }
        string output = Output(line, input == "-" ? "list.txt" : input, ".srs");
        bool source = output.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        Write(output, source ? Encoding.UTF8.GetBytes(SourceRuleSetWriter.Write(content)) : SrsWriter.Write(content));
        if (output != "-") Console.Error.WriteLine($"{output}: {content.Summary()}");
        return 0;
    }

    private static string One(List<string> args, string usage) =>
        args.Count == 1 ? args[0] : throw new UsageException($"rule-set {usage}");

    private static string Output(CommandLine line, string input, string extension) =>
        line.Options.GetValueOrDefault("--output") ?? Path.ChangeExtension(input, extension);

    private static void Write(string output, byte[] bytes)
    {
        if (output == "-")
        {
            using var stdout = Console.OpenStandardOutput();
            stdout.Write(bytes);
            return;
        }
        AtomicFile.Write(output, bytes);
    }
}
