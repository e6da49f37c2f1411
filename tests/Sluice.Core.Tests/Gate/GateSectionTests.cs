using Sluice.Core.Configuration;
using Sluice.Core.Gate;

namespace Sluice.Core.Tests.Gate;

public class GateSectionTests
{
    private const string Tun = "\"inbounds\": [{\"type\": \"tun\", \"address\": [\"172.19.0.1/30\"]}]";

    private static SluiceConfig Load(string gate) => ConfigLoader.Load($"{{{Tun}, \"gate\": {gate}}}");

    private static string[] Errors(string gate) =>
        ConfigLoader.Validate($"{{{Tun}, \"gate\": {gate}}}").Select(e => e.ToString()).ToArray();

    [Fact]
    public void NoGateSection_IsModeOff() =>
        Assert.Equal(GateMode.Off, ConfigLoader.Load($"{{{Tun}}}").Gate.Mode);

    [Fact]
    public void ModeAll_GetsTheDefaultCgroup_ForExec()
    {
        var gate = Load("{\"mode\": \"all\"}").Gate;
        Assert.Equal(GateMode.All, gate.Mode);
        Assert.Equal(GateDefaults.CgroupPath, gate.Cgroup);
        Assert.False(gate.AllowLan);
    }

    [Fact]
    public void ModeProtected_ReadsEveryField()
    {
        var gate = Load("""{"mode": "protected", "uid": [1000, 1001], "cgroup": "/apps/held/", "allow_lan": true, "bootstrap_dns": "9.9.9.9"}""").Gate;
        Assert.Equal(GateMode.Protected, gate.Mode);
        Assert.Equal([1000u, 1001u], gate.Uids);
        Assert.Equal("apps/held", gate.Cgroup);
        Assert.True(gate.AllowLan);
        Assert.Equal("9.9.9.9", Assert.Single(gate.BootstrapDns).ToString());
    }

    [Theory]
    [InlineData("{\"mode\": \"strict\"}", "gate.mode: unknown mode \"strict\" (expected off, all or protected)")]
    [InlineData("{\"mode\": \"all\", \"uid\": [1000]}", "gate.uid: only mode \"protected\" holds by uid")]
    [InlineData("{\"mode\": \"protected\", \"cgroup\": \"../etc\"}", "gate.cgroup: \"../etc\" is not a cgroup path")]
    [InlineData("{\"mode\": \"protected\", \"bootstrap_dns\": [\"9.9.9.0/24\"]}", "gate.bootstrap_dns[0]: \"9.9.9.0/24\" is not an IP address")]
    [InlineData("{\"mode\": \"protected\", \"uid\": [-1]}", "gate.uid[0]: -1 is out of range")]
    [InlineData("{\"mode\": \"off\", \"cgroup\": \"x\"}", "gate.cgroup: mode \"off\" holds nothing")]
    [InlineData("{\"mode\": \"all\", \"kill_switch\": true}", "gate.kill_switch: unknown field")]
    public void Mistakes_AreReportedWithTheirPath(string gate, string expected) =>
        Assert.Contains(Errors(gate), e => e.StartsWith(expected, StringComparison.Ordinal));
}
