using Sluice.Cli.Commands;

namespace Sluice.Cli.Tests.Commands;

public sealed class CommandLineTests
{
    [Fact]
    public void Parse_ExpandsAliases_AndSplitsOptionsFlagsAndArguments()
    {
        var line = CommandLine.Parse(["gate", "status", "-c", "a.json", "--json", "--root=/tmp/r"]);

        Assert.Equal("gate", line.Verb);
        Assert.Equal(["status"], line.Arguments);
        Assert.Equal("a.json", line.Options["--config"]);
        Assert.Equal("/tmp/r", line.Options["--root"]);
        Assert.Contains("--json", line.SetFlags);
    }

    [Fact]
    public void Parse_TakesEverythingAfterDoubleDash_AsTheCommandToRun()
    {
        var line = CommandLine.Parse(["exec", "--lane", "protected", "--", "curl", "--max-time", "3", "-c", "x"]);

        Assert.Equal("protected", line.Options["--lane"]);
        Assert.Equal(["curl", "--max-time", "3", "-c", "x"], line.Arguments);
        Assert.False(line.Options.ContainsKey("--config"));
    }

    [Fact]
    public void Parse_OptionWithoutValue_IsAUsageErrorNamingIt()
    {
        var error = Assert.Throws<UsageException>(() => CommandLine.Parse(["run", "--config"]));
        Assert.Contains("--config needs a value", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "up", "--pick" }, "")]
    [InlineData(new[] { "up", "--pick", "-c", "a.json" }, "")]
    [InlineData(new[] { "up", "--pick", "vless-1", "-c", "a.json" }, "vless-1")]
    [InlineData(new[] { "up", "--pick=vless-1" }, "vless-1")]
    public void Pick_TakesAServerName_OrNoneToAsk(string[] args, string expected)
    {
        var line = CommandLine.Parse(args);

        Assert.Equal(expected, line.Options["--pick"]);
        if (args.Contains("-c")) Assert.Equal("a.json", line.Options["--config"]);
    }

    [Fact]
    public void AllowOnly_RejectsAnOptionTheVerbDoesNotKnow()
    {
        var line = CommandLine.Parse(["run", "-c", "a.json", "--colour", "red"]);

        var error = Assert.Throws<UsageException>(() => line.AllowOnly("--config"));
        Assert.Equal("run: unknown option --colour", error.Message);
    }

    [Fact]
    public void Require_NamesTheMissingOption()
    {
        var error = Assert.Throws<UsageException>(() => CommandLine.Parse(["check"]).Require("--config", "CONFIG"));
        Assert.Equal("--config CONFIG is required", error.Message);
    }

    [Theory]
    [InlineData("import", "--help")]
    [InlineData("check", "-h")]
    public void HelpAfterAVerb_IsAFlag_NotAnOptionWaitingForAValue(string verb, string help)
    {
        var line = CommandLine.Parse([verb, help]);

        Assert.True(line.WantsHelp);
        Assert.Empty(line.Options);
    }

    [Theory]
    [InlineData(new[] { "import", "--help" }, 0, "usage: sluice import SRC [-o F]")]
    [InlineData(new[] { "check", "-h" }, 0, "usage: sluice check -c CONFIG")]
    [InlineData(new[] { "gate", "--help" }, 0, "usage: sluice gate status")]
    [InlineData(new[] { "run", "--config" }, 2, "sluice: --config needs a value")]
    public async Task TheExecutable_AnswersHelpAndBadLines_WithoutAnUnhandledException(string[] args, int exitCode, string expected)
    {
        // The real entry point in its own process: a UsageException thrown while parsing once escaped Main.
        var (code, output) = await RunExecutable(args);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.Equal(exitCode, code);
    }

    [Fact]
    public async Task RuleSetConvert_FromAClashProvider_WritesASetThatMatchesWhatClashWould()
    {
        string dir = Directory.CreateTempSubdirectory("sluice-cli-convert-").FullName;
        try
        {
            string provider = Path.Combine(dir, "ads.yaml"), output = Path.Combine(dir, "ads.srs");
            await File.WriteAllTextAsync(provider, "payload:\n  - '+.ads.test'\n  - '*.track.test'\n");
            var (code, text) = await RunExecutable(["rule-set", "convert", provider, "--from", "clash-domain", "-o", output]);
            Assert.True(code == 0, text);
            Assert.Equal(0, (await RunExecutable(["rule-set", "match", output, "ads.test"])).Code);
            Assert.Equal(0, (await RunExecutable(["rule-set", "match", output, "x.track.test"])).Code);
            Assert.Equal(1, (await RunExecutable(["rule-set", "match", output, "x.y.track.test"])).Code);

            var (badCode, badText) = await RunExecutable(["rule-set", "convert", provider, "--from", "clash", "-o", output]);
            Assert.Equal(2, badCode);
            Assert.Contains("expected clash-domain, clash-ipcidr or clash-classical", badText, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<(int Code, string Output)> RunExecutable(string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(CommandLine).Assembly.Location);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, stdout + await stderr);
    }
}
