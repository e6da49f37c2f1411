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
}
