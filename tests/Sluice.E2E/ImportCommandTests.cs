using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>`sluice import wg0.conf` as a user runs it: a config out, or one `file:line:` error and no file.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-import-").FullName;

    private string WriteConf(string privateKey)
    {
        var (_, peerPublic) = WireGuardGoPeer.GenerateKeys();
        string path = Path.Combine(_dir, "wg0.conf");
        File.WriteAllText(path, $"""
            [Interface]
            PrivateKey = {privateKey}
            Address = 10.66.0.2/32
            ListenPort = 51821

            [Peer]
            PublicKey = {peerPublic}
            AllowedIPs = 0.0.0.0/0
            Endpoint = 10.200.0.1:51820
            """);
        return path;
    }

    [Fact]
    public void Import_WritesAConfigThatChecksOk()
    {
        string conf = WriteConf(WireGuardGoPeer.GenerateKeys().Private);
        string output = Path.Combine(_dir, "config.json");

        var import = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "import", conf, "-o", output]);
        var check = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "check", "-c", output]);

        Assert.True(import.Ok, import.ToString());
        Assert.True(check.Ok, check.ToString());
        Assert.Contains("\"type\": \"wireguard\"", File.ReadAllText(output));
    }

    [Fact]
    public void Import_BadLine_NamesTheLine_AndWritesNoFile()
    {
        string conf = WriteConf("not-a-key");
        string output = Path.Combine(_dir, "config.json");

        var import = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "import", conf, "-o", output]);

        Assert.Equal(1, import.ExitCode);
        Assert.StartsWith("wg0.conf:2: PrivateKey is not a WireGuard key", import.Stderr.Trim());
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
