using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>`sluice check` names the JSON path of each problem, as a user runs it.</summary>
public sealed class CheckCommandTests
{
    public static TheoryData<string> BrokenConfigs()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "broken"), "*.json").Order())
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenConfigs))]
    public void Check_BrokenConfig_ExitsOneWithThePath(string name)
    {
        string file = Path.Combine(AppContext.BaseDirectory, "broken", name);
        string expected = File.ReadAllText(Path.ChangeExtension(file, ".expected")).Trim();

        var result = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "check", "-c", file]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr); // no stack trace
    }

    [Fact]
    public void Check_BrokenConfigs_AreAtLeastTen() => Assert.True(BrokenConfigs().Count >= 10);

    [Fact]
    public void Check_ValidConfig_ExitsZero()
    {
        string file = Path.Combine(Path.GetTempPath(), $"sluice-check-{Environment.ProcessId}.json");
        File.WriteAllText(file, EngineConfigs.Tun("""{"process_name": "curl", "outbound": "direct"}"""));
        try
        {
            var result = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "check", "-c", file]);
            Assert.True(result.Ok, result.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }
}
