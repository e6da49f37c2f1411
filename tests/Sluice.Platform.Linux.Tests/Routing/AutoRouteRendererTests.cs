using Sluice.Core.Tun;

namespace Sluice.Platform.Linux.Tests.Routing;

public class AutoRouteRendererTests
{
    private static AutoRoutePlan Plan(bool v4 = true, bool v6 = false, string[]? routes = null, string[]? excludes = null, bool strict = false) =>
        new("sluice0", 2022, 0x2022, 9000, v4, v6,
            (routes ?? []).Select(IpPrefix.Parse).ToArray(),
            (excludes ?? []).Select(IpPrefix.Parse).ToArray(),
            strict);

    [Fact]
    public void V4Only_RoutesEverythingIntoTun_AndRulesOutMarkedTraffic()
    {
        var apply = AutoRouteRenderer.RenderApply(Plan());
        Assert.Equal(
            "route replace 0.0.0.0/0 dev sluice0 table 2022\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V4);
        Assert.Equal("", apply.V6);

        var remove = AutoRouteRenderer.RenderRemove(Plan());
        Assert.Equal(
            "rule del pref 9000 not fwmark 0x2022 lookup 2022\n" +
            "route del 0.0.0.0/0 dev sluice0 table 2022\n", remove.V4);
        Assert.Equal("", remove.V6);
    }

    [Fact]
    public void V4AndV6_GetOneDefaultAndOneRuleEach()
    {
        var apply = AutoRouteRenderer.RenderApply(Plan(v6: true));
        Assert.Equal(
            "route replace 0.0.0.0/0 dev sluice0 table 2022\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V4);
        Assert.Equal(
            "route replace ::/0 dev sluice0 table 2022\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V6);

        var remove = AutoRouteRenderer.RenderRemove(Plan(v6: true));
        Assert.Equal(
            "rule del pref 9000 not fwmark 0x2022 lookup 2022\n" +
            "route del ::/0 dev sluice0 table 2022\n", remove.V6);
    }

    [Fact]
    public void RouteAddress_ReplacesDefault_AndExcludesBecomeThrowRoutes()
    {
        var plan = Plan(v6: true,
            routes: ["10.1.2.3/8", "192.168.50.0/24"],
            excludes: ["10.99.0.0/16", "fd00::/8", "2001:db8::1/128"]);
        var apply = AutoRouteRenderer.RenderApply(plan);
        Assert.Equal(
            "route replace 10.0.0.0/8 dev sluice0 table 2022\n" +
            "route replace 192.168.50.0/24 dev sluice0 table 2022\n" +
            "route replace throw 10.99.0.0/16 table 2022\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V4);
        // No v6 route_address: v6 keeps its default; v6 excludes still throw.
        Assert.Equal(
            "route replace ::/0 dev sluice0 table 2022\n" +
            "route replace throw fd00::/8 table 2022\n" +
            "route replace throw 2001:db8::1/128 table 2022\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V6);

        var remove = AutoRouteRenderer.RenderRemove(plan);
        Assert.Equal(
            "rule del pref 9000 not fwmark 0x2022 lookup 2022\n" +
            "route del 10.0.0.0/8 dev sluice0 table 2022\n" +
            "route del 192.168.50.0/24 dev sluice0 table 2022\n" +
            "route del throw 10.99.0.0/16 table 2022\n", remove.V4);
    }

    [Fact]
    public void StrictRoute_WithV4OnlyTun_MakesV6Unreachable()
    {
        var plan = Plan(strict: true, excludes: ["fd00::/8"]);
        var apply = AutoRouteRenderer.RenderApply(plan);
        Assert.Equal(
            "route replace 0.0.0.0/0 dev sluice0 table 2022\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V4);
        Assert.Equal(
            "route replace unreachable ::/0 table 2022\n" +
            "route replace throw fd00::/8 table 2022\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V6);
        Assert.Equal(
            "rule del pref 9000 not fwmark 0x2022 lookup 2022\n" +
            "route del unreachable ::/0 table 2022\n" +
            "route del throw fd00::/8 table 2022\n", AutoRouteRenderer.RenderRemove(plan).V6);
    }

    [Fact]
    public void WithoutStrictRoute_AFamilyTheTunLacks_IsLeftAlone()
    {
        var apply = AutoRouteRenderer.RenderApply(Plan(v4: false, v6: true, excludes: ["10.0.0.0/8"]));
        Assert.Equal("", apply.V4);
        Assert.Equal(
            "route replace ::/0 dev sluice0 table 2022\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V6);
    }

    [Fact]
    public void ExcludedUids_AndInterfaces_GoPastTheTunRule_ToANopLandingRule()
    {
        var plan = Plan(v6: true) with
        {
            Scope = new RouteScope([], [new UidRange(1000, 1000), new UidRange(2000, 2999)], [], ["lan1"]),
        };
        const string scope =
            "rule add pref 9001 nop\n" +
            "rule add pref 8997 iif lo uidrange 1000-1000 goto 9001\n" +
            "rule add pref 8997 iif lo uidrange 2000-2999 goto 9001\n" +
            "rule add pref 8997 iif lan1 goto 9001\n";
        var apply = AutoRouteRenderer.RenderApply(plan);
        Assert.Equal(
            "route replace 0.0.0.0/0 dev sluice0 table 2022\n" + scope +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V4);
        Assert.Equal(
            "route replace ::/0 dev sluice0 table 2022\n" + scope +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", apply.V6);
        Assert.Equal(
            "rule del pref 9000 not fwmark 0x2022 lookup 2022\n" +
            "rule del pref 8997 iif lan1 goto 9001\n" +
            "rule del pref 8997 iif lo uidrange 2000-2999 goto 9001\n" +
            "rule del pref 8997 iif lo uidrange 1000-1000 goto 9001\n" +
            "rule del pref 9001 nop\n" +
            "route del 0.0.0.0/0 dev sluice0 table 2022\n", AutoRouteRenderer.RenderRemove(plan).V4);
    }

    [Fact]
    public void IncludedUids_AndInterfaces_JumpToTheTunRule_AndTheRestOfEachClassBypasses()
    {
        var plan = Plan() with
        {
            Scope = new RouteScope([new UidRange(0, 0)], [new UidRange(5, 5)], ["lan0"], []),
        };
        Assert.Equal(
            "route replace 0.0.0.0/0 dev sluice0 table 2022\n" +
            "rule add pref 9001 nop\n" +
            "rule add pref 8997 iif lo uidrange 5-5 goto 9001\n" +
            "rule add pref 8998 iif lo uidrange 0-0 goto 9000\n" +
            "rule add pref 8998 iif lan0 goto 9000\n" +
            "rule add pref 8999 goto 9001\n" +
            "rule add pref 9000 not fwmark 0x2022 lookup 2022\n", AutoRouteRenderer.RenderApply(plan).V4);
    }

    [Fact]
    public void IncludedUidsOnly_SendOtherLocalUsersToTheBypass_AndIncludedInterfacesOnly_OtherForwardedTraffic()
    {
        var uids = AutoRouteRenderer.RenderApply(Plan() with { Scope = new RouteScope([new UidRange(0, 0)], [], [], []) }).V4;
        Assert.Contains("rule add pref 8999 iif lo goto 9001\n", uids);
        Assert.DoesNotContain("not iif lo", uids);
        var interfaces = AutoRouteRenderer.RenderApply(Plan() with { Scope = new RouteScope([], [], ["lan0"], []) }).V4;
        Assert.Contains("rule add pref 8999 not iif lo goto 9001\n", interfaces);
    }

    [Fact]
    public void Nftables_ReplacesItsTableAtomically_MarksRepliesToInboundTcpConnectionsOnly_AndDropsMarkedTrafficIntoTheTun()
    {
        Assert.Equal(
            "table inet sluice_route {}\n" +
            "delete table inet sluice_route\n" +
            "table inet sluice_route {\n" +
            "\tchain prerouting {\n" +
            "\t\ttype filter hook prerouting priority mangle; policy accept;\n" +
            "\t\tiifname != { \"sluice0\", \"lo\" } meta l4proto { tcp, icmp, ipv6-icmp } ct state new ct mark set 0x2022\n" +
            "\t}\n" +
            "\tchain output {\n" +
            "\t\ttype route hook output priority mangle; policy accept;\n" +
            "\t\tct mark 0x2022 meta mark set ct mark\n" +
            "\t}\n" +
            "\tchain marked_into_tun {\n" +
            "\t\ttype filter hook postrouting priority filter; policy accept;\n" +
            "\t\toifname \"sluice0\" meta mark 0x2022 drop\n" +
            "\t}\n" +
            "}\n", AutoRouteRenderer.RenderNftables(Plan()));
        Assert.Equal(
            "table inet sluice_route {}\ndelete table inet sluice_route\n",
            AutoRouteRenderer.RenderNftablesRemove());
    }

    [Fact]
    public void IpBatchFailure_NamesTheFailingLine()
    {
        string line = IpCommand.FailedBatchLine("link set dev a up\naddress add x dev a\n", "Error: bad\nCommand failed -:2\n");
        Assert.Equal("address add x dev a", line);
    }
}
