using System.Diagnostics;
using System.Text.Json;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Finding 9 of issue 17 over the daemon's socket: a non-root caller names files, and the root daemon reads only
/// regular files, under their caps, that the caller could read itself (SO_PEERCRED). Before the fix a FIFO hung
/// every action and a root-only file was read for anyone who could reach the socket.
/// </summary>
public sealed class DaemonFileReadTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly TestUser _user = TestUser.Create();

    [Fact]
    public void PathsNamedOverTheSocket_AreReadWithTheCallersRights_RegularFilesOnly_UnderTheirCaps()
    {
        var daemon = DaemonUnderTest.Start(_testbed);
        // The user reaches the socket (directories traversable, the socket's group is the user's) and nothing else.
        File.SetUnixFileMode(_testbed.WorkDir, (UnixFileMode)0x1C9); // 0711
        File.SetUnixFileMode(daemon.Dir, (UnixFileMode)0x1C9);
        Exec.Check("chgrp", _user.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture), daemon.Socket);

        string rootOnly = daemon.WriteConfig(EngineConfigs.Tun(), "root-only.json");
        File.SetUnixFileMode(rootOnly, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var refused = UserUp(daemon, $$"""{"config_path": "{{rootOnly}}"}""");
        Assert.Equal(2, refused.GetProperty("code").GetInt32());
        Assert.Contains($"uid {_user.Uid} may not read it", refused.GetProperty("message").GetString());

        // Positive control: a file the user can read is read (its content is judged, here found not to be a config).
        string readable = daemon.WriteConfig("this is not json", "readable.json");
        File.SetUnixFileMode(readable, (UnixFileMode)0x1A4); // 0644
        var read = UserUp(daemon, $$"""{"config_path": "{{readable}}"}""");
        Assert.Contains("is not valid", read.GetProperty("message").GetString());

        // A FIFO with no writer answers at once, for the user and for root.
        string fifo = Path.Combine(_testbed.WorkDir, "fifo.json");
        Exec.Check("mkfifo", "-m", "0666", fifo);
        var clock = Stopwatch.StartNew();
        var fifoAnswer = UserUp(daemon, $$"""{"config_path": "{{fifo}}"}""");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"answered after {clock.Elapsed}"); // curl and setpriv included; the read itself is checked under 1 s in the unit tests
        Assert.Contains("a FIFO, not a regular file", fifoAnswer.GetProperty("message").GetString());
        clock.Restart();
        Assert.Contains("a FIFO, not a regular file", daemon.Core("up", $$"""{"config_path": "{{fifo}}"}""").GetProperty("message").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"root's answer after {clock.Elapsed}");

        Assert.Contains("/dev/zero: a character device", UserUp(daemon, """{"config_path": "/dev/zero"}""").GetProperty("message").GetString());

        string huge = Path.Combine(_testbed.WorkDir, "huge.json");
        using (var stream = File.Create(huge)) stream.SetLength(Sluice.Core.EngineLimits.Default.ConfigFileBytes + 1);
        File.SetUnixFileMode(huge, (UnixFileMode)0x1A4);
        Assert.Contains("larger than the 16 MiB cap", UserUp(daemon, $$"""{"config_path": "{{huge}}"}""").GetProperty("message").GetString());

        // An inline config may not make the daemon read a root-only PEM for the user either.
        string pem = Path.Combine(_testbed.WorkDir, "ca.pem");
        File.WriteAllText(pem, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        File.SetUnixFileMode(pem, UnixFileMode.UserRead);
        var inline = UserUp(daemon, $$"""
            {"config": {"outbounds": [{"type": "trojan", "tag": "t", "server": "192.0.2.1", "server_port": 443, "password": "p",
              "tls": {"enabled": true, "certificate_path": "{{pem}}"} }] } }
            """);
        Assert.Contains($"uid {_user.Uid} may not read it", inline.GetProperty("message").GetString());

        // The daemon is still serving and still disconnected: nothing got in.
        Assert.Equal("disconnected", daemon.State());
    }

    private JsonElement UserUp(DaemonUnderTest daemon, string paramsJson)
    {
        string body = $$"""{"action": "up", "params": {{paramsJson}}}""";
        var result = _testbed.RunInClient(TimeSpan.FromSeconds(60), _user.As("curl", "-sS", "--max-time", "50", "--unix-socket", daemon.Socket,
            "-X", "POST", "-H", "Content-Type: application/json", "-d", body, "http://localhost/api/core"));
        Assert.True(result.Ok, result + "\n" + daemon.Process.Log);
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    public void Dispose()
    {
        _testbed.Dispose();
        _user.Dispose();
    }
}
