using Sluice.Fuzz.Targets;

namespace Sluice.Core.Tests.Fuzzing;

/// <summary>
/// The fuzz corpus in the repository: every target has seeds (fuzz/corpus/NAME/), and every seed and
/// every crash a campaign found (fuzz/regressions/NAME/, written by fuzz/run.sh) runs through its target
/// in each test run, so a fixed crash stays fixed.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static string FuzzDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("Sluice.sln not found above " + AppContext.BaseDirectory), "fuzz");
    }

    public static TheoryData<string> Targets() => [.. FuzzTargetTable.All.Keys];

    [Theory]
    [MemberData(nameof(Targets))]
    public void EveryTarget_HasSeeds_AndSurvivesItsCorpusAndRegressions(string name)
    {
        var target = FuzzTargetTable.All[name];
        var seeds = Files(Path.Combine(FuzzDir(), "corpus", name));
        Assert.True(seeds.Count > 0, $"fuzz/corpus/{name}/ holds no seed");
        foreach (var file in seeds.Concat(Files(Path.Combine(FuzzDir(), "regressions", name))))
        {
            try
            {
                target(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"{name} fails on {file}: {e}");
            }
        }
    }

    [Fact]
    public void WireGuardSeeds_ReachTheSessionStages_AndRoundTrip()
    {
        var seeds = WireGuardFuzzTarget.Seeds().ToList();
        Assert.Contains(seeds, s => s.Bytes.Length > 0 && s.Bytes[0] == 1);
        Assert.Contains(seeds, s => s.Bytes.Length > 0 && s.Bytes[0] == 2);
        foreach (var (_, bytes) in seeds) WireGuardFuzzTarget.Run(bytes);
    }

    private static List<string> Files(string dir) =>
        Directory.Exists(dir) ? [.. Directory.EnumerateFiles(dir).Where(f => !Path.GetFileName(f).StartsWith('.')).Order()] : [];
}
