using System.Globalization;
using System.Text.Json;
using Sluice.Hosting.Linux;
using Sluice.Platform.Linux;
using Sluice.Platform.Linux.Systemd;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Findings 12 and 13 of issue 17, run for real. PID 1 is not systemd here, so the unit's restrictions are built
/// by hand from the rendered unit: the unit's ExecStart, in a private mount namespace where every mount but
/// /proc, /sys and /dev is read-only (ProtectSystem=strict; /tmp too, harsher than PrivateTmp) save its own
/// runtime, state and configuration directories (bind-mounted writable, as ReadWritePaths), under setpriv with the
/// unit's CapabilityBoundingSet and NoNewPrivileges. And the CLI's answer to a user outside the socket's group.
/// </summary>
public sealed class DaemonUnitSandboxTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private TestUser? _user;

    [Fact]
    public void DaemonCommand_UnderTheUnitsRestrictions_StartsServesStatus_AndBringsTheEngineUp()
    {
        string unit = DaemonUnit.Render(SluiceBinary.AbsoluteCommand(), null);
        var exec = SystemdUnit.ExecStarts(unit).Single().Argv;
        string[] caps = Setting(unit, "CapabilityBoundingSet").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("yes", Setting(unit, "NoNewPrivileges"));
        Assert.Equal("strict", Setting(unit, "ProtectSystem"));
        string bounding = "-all," + string.Join(',', caps.Select(c => "+" + c["CAP_".Length..].ToLowerInvariant()));

        string dir = Path.Combine(_testbed.WorkDir, "unit");
        foreach (string sub in new[] { "run", "state", "etc" }) Directory.CreateDirectory(Path.Combine(dir, sub));
        string socket = Path.Combine(dir, "run", "sluice.sock");
        const string Script = """
            set -e
            dir="$1"; probe="$2"; bounding="$3"; shift 3
            mount --make-rprivate /
            for d in run state etc; do mount --bind "$dir/$d" "$dir/$d"; done
            awk '{print $5}' /proc/self/mountinfo | while read -r mp; do
              case "$mp" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|"$dir"/*) continue;; esac
              mount -o remount,bind,ro "$mp" 2>/dev/null || true
            done
            # The sandbox must hold before the daemon runs in it (else this test would prove nothing).
            if touch "$probe" 2>/dev/null || touch /etc/sluice-sandbox-probe 2>/dev/null; then echo "SANDBOX OPEN"; exit 97; fi
            echo "sandbox closed"
            exec setpriv --bounding-set "$bounding" --no-new-privs -- "$@"
            """;
        string probe = Path.Combine(_testbed.WorkDir, "outside-probe");
        var process = new EngineProcess(_testbed.StartIn(_testbed.Client, ["unshare", "-m", "--", "sh", "-c", Script, "sh", dir, probe, bounding,
            .. exec, "--socket", socket, "--secret-file", Path.Combine(dir, "etc", "secret"), "--state-dir", Path.Combine(dir, "state")]));
        Assert.True(process.WaitFor("daemon ready", TimeSpan.FromSeconds(60)), process.Log);
        Assert.Contains("sandbox closed", process.Log);
        Assert.False(File.Exists(probe));

        // The restrictions are really on the daemon's process.
        string status = File.ReadAllText($"/proc/{process.Process.Id}/status");
        Assert.Contains("NoNewPrivs:\t1", status);
        ulong expected = caps.Aggregate(0UL, (mask, c) => mask | (1UL << CapabilityNumber(c)));
        string capBnd = status.Split('\n').Single(l => l.StartsWith("CapBnd:", StringComparison.Ordinal))["CapBnd:".Length..].Trim();
        Assert.Equal(expected, ulong.Parse(capBnd, NumberStyles.HexNumber, CultureInfo.InvariantCulture));

        var state = Core(socket, """{"action": "status"}""");
        Assert.Equal("disconnected", state.GetProperty("data").GetProperty("state").GetString());
        var up = Core(socket, """{"action": "up", "params": {"config": """ + EngineConfigs.Tun() + "} }");
        Assert.True(up.GetProperty("code").GetInt32() == 0, up + "\n" + process.Log);
        Assert.True(_testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl()).Ok, process.Log);
        Assert.Equal(0, Core(socket, """{"action": "down"}""").GetProperty("code").GetInt32());
        Assert.DoesNotContain("Unhandled exception", process.Log);
    }

    [Fact]
    public void Cli_OutsideTheSocketsGroup_PrintsTheGroupHint_AndInsideItIsServed()
    {
        _user = TestUser.Create();
        var daemon = DaemonUnderTest.Start(_testbed);
        File.SetUnixFileMode(_testbed.WorkDir, (UnixFileMode)0x1C9); // 0711: the path is not what refuses the user
        File.SetUnixFileMode(daemon.Dir, (UnixFileMode)0x1C9);
        string[] cli = _user.As(["env", "HOME=/nonexistent", "DOTNET_CLI_HOME=/nonexistent", $"SLUICE_SOCKET={daemon.Socket}", .. SluiceBinary.Command(), "status"]);

        var outside = _testbed.RunInClient(TimeSpan.FromSeconds(60), cli);
        Assert.NotEqual(0, outside.ExitCode);
        Assert.Contains("permission denied on", outside.Stderr);
        Assert.Contains("join it (`sudo usermod -aG sluice $USER`, then log in again) or use sudo", outside.Stderr);
        Assert.DoesNotContain("   at ", outside.Stderr); // one line, no stack trace

        // Positive control: in the socket's group, the same user is served (status exits 4: not connected).
        Exec.Check("chgrp", _user.Gid.ToString(CultureInfo.InvariantCulture), daemon.Socket);
        var inside = _testbed.RunInClient(TimeSpan.FromSeconds(60), cli);
        Assert.True(inside.ExitCode == 4, inside.ToString());
        Assert.Contains("disconnected", inside.Stdout);
    }

    private JsonElement Core(string socket, string body)
    {
        var result = _testbed.RunInClient(TimeSpan.FromSeconds(60), "curl", "-sS", "--max-time", "50", "--unix-socket", socket,
            "-X", "POST", "-H", "Content-Type: application/json", "-d", body, "http://localhost/api/core");
        Assert.True(result.Ok, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    private static string Setting(string unit, string name) =>
        unit.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];

    // linux/capability.h numbers of the capabilities a unit may name here.
    private static int CapabilityNumber(string cap) => cap switch
    {
        "CAP_DAC_READ_SEARCH" => 2,
        "CAP_NET_BIND_SERVICE" => 10,
        "CAP_NET_ADMIN" => 12,
        "CAP_NET_RAW" => 13,
        "CAP_SYS_PTRACE" => 19,
        "CAP_SYS_ADMIN" => 21,
        _ => throw new ArgumentException($"add {cap}'s number to this table"),
    };

    public void Dispose()
    {
        _testbed.Dispose();
        _user?.Dispose();
    }
}
