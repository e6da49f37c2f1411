using Sluice.Core.Gate;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Platform.Linux.Tests.Gate;

public class GateRendererTests
{
    [Fact]
    public void ModeAll_HoldsEverythingButLoopbackTunAndMark() =>
        Golden.Match("all.nft", GateRenderer.Render(GatePlans.Plan(GateMode.All, cgroup: new CgroupMatch.NetCls("sluice/protected", GateDefaults.NetClsClassId))));

    [Fact]
    public void ModeAll_WithLanAndBootstrapDns_OpensOnlyPrivateRangesAndPort53() =>
        Golden.Match("all-lan-dns.nft", GateRenderer.Render(GatePlans.Plan(GateMode.All, lan: true, dns: ["9.9.9.9", "2620:fe::fe"])));

    [Fact]
    public void ModeProtected_NetCls_HoldsUidsAndClassId() =>
        Golden.Match("protected-net_cls.nft", GateRenderer.Render(GatePlans.Plan(GateMode.Protected, uids: [1000, 64123],
            cgroup: new CgroupMatch.NetCls("sluice/protected", GateDefaults.NetClsClassId))));

    [Fact]
    public void ModeProtected_CgroupV2_MatchesPathAtItsLevel() =>
        Golden.Match("protected-v2.nft", GateRenderer.Render(GatePlans.Plan(GateMode.Protected, uids: [1000],
            cgroup: new CgroupMatch.V2("sluice/protected"))));

    [Fact]
    public void Script_ReplacesTableInOneTransaction_SoApplyingTwiceChangesNothing()
    {
        string script = GateRenderer.Render(GatePlans.Plan(GateMode.All));
        var lines = script.Split('\n');
        Assert.Equal("table inet sluice {}", lines[0]);
        Assert.Equal("delete table inet sluice", lines[1]);
        Assert.Equal("table inet sluice {", lines[2]);
        Assert.Equal(script, GateRenderer.Render(GatePlans.Plan(GateMode.All)));
    }

    [Fact]
    public void Interfaces_AreMatchedByType_NotByAListOfNames()
    {
        string script = GateRenderer.Render(GatePlans.Plan(GateMode.All));
        // The only interface names are the TUN's; eth0/wlan0/usb0 never appear, so a new adapter is held.
        var names = System.Text.RegularExpressions.Regex.Matches(script, "i[io]fname \"([^\"]+)\"").Select(m => m.Groups[1].Value).Distinct();
        Assert.Equal(["sluice0"], names);
        Assert.Contains("oiftype loopback accept", script);
        Assert.Contains("counter drop", script);
    }

    [Fact]
    public void InboundToTunAddress_FromOtherInterfaces_IsDropped()
    {
        string script = GateRenderer.Render(GatePlans.Plan(GateMode.Protected, uids: [1000]));
        Assert.Contains("iifname \"sluice0\" accept", script);
        Assert.Contains("ip daddr { 172.19.0.1 } counter drop comment \"CVE-2019-14899\"", script);
        Assert.Contains("ip6 daddr { fdfe:dcba:9876::1 } counter drop comment \"CVE-2019-14899\"", script);
    }

    [Fact]
    public void ModeProtected_HasNoForwardChain_ModeAllHasOne()
    {
        Assert.DoesNotContain("hook forward", GateRenderer.Render(GatePlans.Plan(GateMode.Protected, uids: [1000])));
        Assert.Contains("hook forward", GateRenderer.Render(GatePlans.Plan(GateMode.All)));
    }

    [Fact]
    public void AllowLan_NeverOpensPublicRanges()
    {
        foreach (string range in GateRanges.LanV4.Concat(GateRanges.LanV6))
            Assert.True(RouteHijackDetector.IsLocal(IpPrefix.Parse(range)), range);
        Assert.False(RouteHijackDetector.IsLocal(IpPrefix.Parse("198.51.100.0/24")));
        Assert.False(RouteHijackDetector.IsLocal(IpPrefix.Parse("100.64.0.0/10"))); // CGNAT is the ISP's, not the LAN
    }

    [Fact]
    public void ModeOff_RendersOnlyTheRemoval() =>
        Assert.Equal("table inet sluice {}\ndelete table inet sluice\n", GateRenderer.Render(GatePlans.Plan(GateMode.Off)));

    [Fact]
    public void State_RoundTrips_ThroughTheListingNftPrints()
    {
        var plan = GatePlans.Plan(GateMode.Protected, uids: [1000, 64123], cgroup: new CgroupMatch.NetCls("sluice/protected", GateDefaults.NetClsClassId), lan: true);
        // What `nft list table inet sluice` printed for this plan (nft 1.0.6), trimmed to the parts read back.
        string listing = $$"""
            table inet sluice {
            	comment "{{GateState.Encode(plan)}}"
            	chain output {
            		type filter hook output priority filter - 10; policy accept;
            		meta oiftype loopback accept
            		oifname "sluice0" accept
            		meta mark 0x0000534c accept comment "Sluice's own sockets"
            		meta skuid { 1000, 64123 } jump held
            		meta cgroup 1397489665 jump held
            	}
            }
            """;
        var state = GateState.Parse(listing);
        Assert.NotNull(state);
        Assert.Equal(GateMode.Protected, state.Mode);
        Assert.Equal(0x534cu, state.FwMark);
        Assert.Equal("sluice0", state.TunName);
        Assert.Equal([1000u, 64123u], state.Uids);
        Assert.Equal(new CgroupMatch.NetCls("sluice/protected", GateDefaults.NetClsClassId), state.Cgroup);
        Assert.True(state.AllowLan);
        Assert.Equal("/sluice/protected", state.CgroupPath);
    }

    [Fact]
    public void State_OfAForeignTable_IsNull() =>
        Assert.Null(GateState.Parse("table inet sluice {\n\tchain output {\n\t}\n}\n"));

    [Fact]
    public void State_ThatDoesNotFitNftsCommentLimit_IsRefusedWithTheReason()
    {
        var plan = GatePlans.Plan(GateMode.Protected, cgroup: new CgroupMatch.V2(new string('a', 120)));
        var e = Assert.Throws<ArgumentException>(() => GateState.Encode(plan));
        Assert.Contains("shorter cgroup path", e.Message);
    }

    [Fact]
    public void Render_RefusesMarkZero() =>
        Assert.Throws<ArgumentException>(() => GateRenderer.Render(GatePlans.Plan(GateMode.All) with { FwMark = 0 }));
}
