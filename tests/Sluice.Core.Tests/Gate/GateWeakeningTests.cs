using Sluice.Core.Gate;

namespace Sluice.Core.Tests.Gate;

public class GateWeakeningTests
{
    private static readonly CgroupMatch Protected = new CgroupMatch.NetCls("sluice/protected", GateDefaults.NetClsClassId);

    private static GateState Loaded(GatePlan plan) => GateState.FromPlan(plan);

    [Fact]
    public void SamePlan_OpensNothing()
    {
        var plan = GateRendererTests.Plan(GateMode.Protected, uids: [1000], cgroup: Protected, dns: ["9.9.9.9"]);
        Assert.Empty(GateWeakening.Find(Loaded(plan), plan));
    }

    [Fact]
    public void StricterPlan_OpensNothing()
    {
        var loaded = Loaded(GateRendererTests.Plan(GateMode.Protected, uids: [1000], cgroup: Protected, lan: true));
        Assert.Empty(GateWeakening.Find(loaded, GateRendererTests.Plan(GateMode.All, cgroup: Protected)));
        Assert.Empty(GateWeakening.Find(loaded, GateRendererTests.Plan(GateMode.Protected, uids: [1000, 1001], cgroup: Protected)));
    }

    [Fact]
    public void ProtectedReplacingAll_IsAWeakening()
    {
        var loaded = Loaded(GateRendererTests.Plan(GateMode.All, cgroup: Protected));
        var found = GateWeakening.Find(loaded, GateRendererTests.Plan(GateMode.Protected, cgroup: Protected));
        Assert.Contains(found, f => f.Contains("mode all", StringComparison.Ordinal));
    }

    [Fact]
    public void AnotherInterfaceOrMark_IsAWeakening()
    {
        var plan = GateRendererTests.Plan(GateMode.All);
        var eth0 = plan with { TunName = "eth0" };
        Assert.Contains(GateWeakening.Find(Loaded(plan), eth0), f => f.Contains("\"eth0\"", StringComparison.Ordinal));
        var marked = plan with { FwMark = 0x1 };
        Assert.Contains(GateWeakening.Find(Loaded(plan), marked), f => f.Contains("mark 0x1", StringComparison.Ordinal));
    }

    [Fact]
    public void DroppedUidCgroupLanOrNewDns_AreWeakenings()
    {
        var loaded = Loaded(GateRendererTests.Plan(GateMode.Protected, uids: [1000, 1001], cgroup: Protected));
        var found = GateWeakening.Find(loaded, GateRendererTests.Plan(GateMode.Protected, uids: [1000], lan: true, dns: ["9.9.9.9"]));
        Assert.Contains(found, f => f.Contains("uid 1001", StringComparison.Ordinal));
        Assert.Contains(found, f => f.Contains("cgroup /sluice/protected", StringComparison.Ordinal));
        Assert.Contains(found, f => f.Contains("allow_lan", StringComparison.Ordinal));
        Assert.Contains(found, f => f.Contains("9.9.9.9", StringComparison.Ordinal));
    }

    [Fact]
    public void BootstrapDns_IsReadBackFromTheLoadedRules()
    {
        string listing = """
            table inet sluice {
            	comment "sluice-gate v1 mode=all lan=no"
            	chain held {
            		ip daddr 10.0.0.1 meta l4proto { tcp, udp } th dport 53 accept comment "bootstrap DNS"
            		ip6 daddr fd00::1 meta l4proto { tcp, udp } th dport 53 accept comment "bootstrap DNS"
            		counter packets 0 bytes 0 drop
            	}
            }
            """;
        Assert.Equal(["10.0.0.1", "fd00::1"], GateState.Parse(listing)!.BootstrapDns);
    }

    [Fact]
    public void Render_RefusesMarkZero() =>
        Assert.Throws<ArgumentException>(() => GateRenderer.Render(GateRendererTests.Plan(GateMode.All) with { FwMark = 0 }));
}
