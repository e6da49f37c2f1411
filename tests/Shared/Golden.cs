using System.Runtime.CompilerServices;
using Xunit;

namespace Sluice.Tests;

/// <summary>
/// Golden files next to the calling test's source file (golden/NAME). A mismatch fails with both texts;
/// run the tests with SLUICE_UPDATE_GOLDEN=1 to rewrite them, then review the diff like code (refused when CI is set).
/// Linked into each test project that renders configuration text (nft rulesets, pf anchors, systemd units).
/// </summary>
internal static class Golden
{
    public static void Match(string name, string actual, [CallerFilePath] string source = "")
    {
        string path = Path.Combine(Path.GetDirectoryName(source)!, "golden", name);
        if (Environment.GetEnvironmentVariable("SLUICE_UPDATE_GOLDEN") == "1")
        {
            // Rewriting turns every golden test into a pass: never where the result is trusted.
            Assert.True(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")),
                "SLUICE_UPDATE_GOLDEN=1 is refused when CI is set: golden files are rewritten by a person, and reviewed");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"golden file {path} is missing; run with SLUICE_UPDATE_GOLDEN=1 to create it, then review it");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}
