using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// `sluice demo` and every e2e test run peers as root from the testbed's folder: it must be a fresh private
/// one (mktemp -d), never a guessable /tmp path someone created first with their own peer.py in it.
/// </summary>
public sealed class TestbedTempDirTests
{
    [Fact]
    public void Testbed_NeverReusesAPlantedFolder_AndItsFolderIsPrivate()
    {
        // Plant what an attacker would: the names the old scheme (sluice-tb-PID-N) would pick next.
        var planted = new List<string>();
        for (int n = 1; n <= 200; n++)
        {
            string dir = Path.Combine(Path.GetTempPath(), $"sluice-tb-{Environment.ProcessId}-{n}");
            if (Directory.Exists(dir)) continue;
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "planted"), "");
            planted.Add(dir);
        }
        try
        {
            using var testbed = NamespaceTestbed.Create(startPeers: false);
            Assert.False(File.Exists(Path.Combine(testbed.WorkDir, "planted")), $"the testbed took the planted folder {testbed.WorkDir}");
            Assert.DoesNotContain(testbed.WorkDir, planted);
            var mode = File.GetUnixFileMode(testbed.WorkDir);
            Assert.Equal(UnixFileMode.None, mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead));
        }
        finally
        {
            foreach (string dir in planted) Directory.Delete(dir, recursive: true);
        }
    }
}
