using System.Diagnostics;
using Sluice.Daemon;
using Xunit;

namespace Sluice.Daemon.Tests;

public sealed class DeviceIdTests
{
    [Fact]
    public void DeviceId_EqualsSystemdsAppSpecificMachineId()
    {
        // systemd's own implementation of sd_id128_get_machine_app_specific is the independent reference.
        var psi = new ProcessStartInfo("systemd-id128", ["machine-id", "--app-specific=" + Convert.ToHexStringLower(DeviceId.AppId)])
        {
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(psi)!;
        string expected = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        Assert.Equal(expected, DeviceId.Read());
    }

    [Fact]
    public void DeviceId_DoesNotContainTheMachineId_AndDiffersPerApp()
    {
        string machine = File.ReadAllText(DeviceId.MachineIdFile).Trim();
        string id = DeviceId.Read();
        Assert.Matches("^[0-9a-f]{32}$", id);
        Assert.NotEqual(machine, id);
        byte[] otherApp = DeviceId.AppId.ToArray();
        otherApp[0] ^= 1;
        Assert.NotEqual(id, DeviceId.Derive(Convert.FromHexString(machine), otherApp));
    }

    [Fact]
    public void DeviceId_NamesTheFile_WhenItIsNotAMachineId()
    {
        string path = Path.Combine(Path.GetTempPath(), Path.GetRandomFileName());
        try
        {
            File.WriteAllText(path, "not-an-id\n");
            var e = Assert.Throws<InvalidOperationException>(() => DeviceId.Read(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
