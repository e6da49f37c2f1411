using Sluice.Core.Tun;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Routing;

public class LinuxRouteTableTests
{
    private const string Tun = "sltun0";

    private static AutoRoutePlan Plan(bool v6 = true, bool strict = false) => new(
        Tun, 2022, 0x2022, 9000, HasV4: true, HasV6: v6,
        RouteAddress: [],
        RouteExcludeAddress: [IpPrefix.Parse("10.99.0.0/16"), IpPrefix.Parse("fd99::/16")],
        StrictRoute: strict);

    private static LinuxTunDevice CreateTun(TestNamespace ns, bool v6 = true) => ns.Run(() =>
    {
        var tun = LinuxTunDevice.Create(Tun, 1500);
        try
        {
            var addresses = v6
                ? new[] { IpPrefix.Parse("10.77.0.1/30"), IpPrefix.Parse("fd77::1/64") }
                : new[] { IpPrefix.Parse("10.77.0.1/30") };
            TunInterfaceSetup.Configure(Tun, addresses, 1500, ns.Name);
            return tun;
        }
        catch
        {
            tun.Dispose();
            throw;
        }
    });

    /// <summary>Everything auto_route can touch, as text.</summary>
    private static string State(TestNamespace ns)
    {
        var nft = IpCommand.InNetns(ns.Name, "nft", ["list", "table", "inet", AutoRouteRenderer.NftTable]);
        return string.Join("\n---\n",
            ns.Ip("-4", "rule", "show"),
            ns.Ip("-6", "rule", "show"),
            ns.TryIp("-4", "route", "show", "table", "2022").Stdout,
            ns.TryIp("-6", "route", "show", "table", "2022").Stdout,
            nft.Succeeded ? nft.Stdout : "(no nft table)");
    }

    private static void AssertApplied(TestNamespace ns)
    {
        Assert.Contains("9000:\tnot from all fwmark 0x2022 lookup 2022", ns.Ip("-4", "rule", "show"));
        Assert.Contains("9000:\tnot from all fwmark 0x2022 lookup 2022", ns.Ip("-6", "rule", "show"));
        string v4 = ns.Ip("-4", "route", "show", "table", "2022");
        Assert.Contains($"default dev {Tun}", v4);
        Assert.Contains("throw 10.99.0.0/16", v4);
        string v6 = ns.Ip("-6", "route", "show", "table", "2022");
        Assert.Contains($"default dev {Tun}", v6);
        Assert.Contains("throw fd99::/16", v6);
        var nft = IpCommand.InNetns(ns.Name, "nft", ["list", "table", "inet", AutoRouteRenderer.NftTable]);
        Assert.True(nft.Succeeded, nft.Stderr);
        Assert.Contains("ct mark set 0x00002022", nft.Stdout);
        Assert.Contains("meta mark set ct mark", nft.Stdout);
    }

    private static void AssertClean(TestNamespace ns)
    {
        Assert.DoesNotContain("9000:", ns.Ip("-4", "rule", "show"));
        Assert.DoesNotContain("9000:", ns.Ip("-6", "rule", "show"));
        Assert.Equal("", ns.TryIp("-4", "route", "show", "table", "2022").Stdout.Trim());
        Assert.Equal("", ns.TryIp("-6", "route", "show", "table", "2022").Stdout.Trim());
        Assert.False(IpCommand.InNetns(ns.Name, "nft", ["list", "table", "inet", AutoRouteRenderer.NftTable]).Succeeded,
            "nft table inet sluice_route is still there");
    }

    [Fact]
    public void Apply_InstallsRulesRoutesAndNftTable_AndRemoveLeavesNothing()
    {
        using var ns = new TestNamespace();
        using var tun = CreateTun(ns);
        var routes = new LinuxRouteTable(ns.Name);
        routes.Apply(Plan());
        AssertApplied(ns);
        routes.Remove(Plan());
        AssertClean(ns);
    }

    [Fact]
    public void Apply_Twice_LeavesTheSameState()
    {
        using var ns = new TestNamespace();
        using var tun = CreateTun(ns);
        var routes = new LinuxRouteTable(ns.Name);
        routes.Apply(Plan());
        string once = State(ns);
        routes.Apply(Plan());
        Assert.Equal(once, State(ns));
        routes.Remove(Plan());
        AssertClean(ns);
    }

    [Fact]
    public void RemoveStale_CleansUpAfterACrashedRun()
    {
        using var ns = new TestNamespace();
        using var tun = CreateTun(ns);
        new LinuxRouteTable(ns.Name).Apply(Plan()); // the "crashed" engine: applied, never removed
        AssertApplied(ns);
        new LinuxRouteTable(ns.Name).RemoveStale(Plan());
        AssertClean(ns);
    }

    [Fact]
    public void RemoveStale_And_Remove_SucceedWhenNothingIsThere()
    {
        using var ns = new TestNamespace();
        var routes = new LinuxRouteTable(ns.Name);
        routes.RemoveStale(Plan());
        routes.Remove(Plan());
        AssertClean(ns);
    }

    [Fact]
    public void Remove_AfterTheTunIsGone_StillRemovesRulesAndNftTable()
    {
        using var ns = new TestNamespace();
        var tun = CreateTun(ns);
        var routes = new LinuxRouteTable(ns.Name);
        routes.Apply(Plan());
        tun.Dispose(); // takes its routes with it
        routes.Remove(Plan());
        AssertClean(ns);
    }

    [Fact]
    public void Lookups_GoToTun_ExceptMarkedAndExcludedTraffic_AndStrictRouteClosesMissingV6()
    {
        using var ns = new TestNamespace();
        using var tun = CreateTun(ns, v6: false);
        // Main-table routes whose answers are recognisable: prohibit → EACCES, lo for the v6 check.
        ns.Ip("-4", "route", "add", "prohibit", "10.99.0.0/16");
        ns.Ip("-6", "route", "add", "2001:db8::/32", "dev", "lo");
        var routes = new LinuxRouteTable(ns.Name);
        var plan = Plan(v6: false, strict: true);
        routes.Apply(plan);
        try
        {
            Assert.Contains($"dev {Tun} table 2022", ns.Ip("-4", "route", "get", "192.0.2.1"));
            // Marked (engine) traffic takes the main table, which has no default here.
            Assert.Contains("unreachable", ns.TryIp("-4", "route", "get", "192.0.2.1", "mark", "0x2022").Stderr, StringComparison.OrdinalIgnoreCase);
            // Excluded prefix: throw falls through to the main table's prohibit route.
            Assert.Contains("Permission denied", ns.TryIp("-4", "route", "get", "10.99.1.1").Stderr);
            // Local delivery still wins (local table, pref 0).
            Assert.Contains("local 10.77.0.1", ns.Ip("-4", "route", "get", "10.77.0.1"));
            // strict_route with a v4-only TUN: v6 fails fast instead of using the main table's route.
            var v6 = ns.TryIp("-6", "route", "get", "2001:db8::1");
            Assert.False(v6.Succeeded, "v6 leaked past strict_route: " + v6.Stdout);
            Assert.Contains("dev lo", ns.Ip("-6", "route", "get", "2001:db8::1", "mark", "0x2022"));
        }
        finally
        {
            routes.Remove(plan);
        }
        AssertClean(ns);
        Assert.Contains("dev lo", ns.Ip("-6", "route", "get", "2001:db8::1"));
    }
    [Fact]
    public void ExcludedUid_AndExcludedInterface_AreLookedUpInTheMainTable_OthersInTheTun()
    {
        using var ns = new TestNamespace();
        using var tun = CreateTun(ns, v6: false);
        // The main table's answer is recognisable: prohibit → "Permission denied".
        ns.Ip("-4", "route", "add", "prohibit", "192.0.2.0/24");
        ns.Ip("link", "add", "sllan0", "type", "veth", "peer", "name", "sllan1");
        ns.Ip("link", "set", "sllan0", "up");
        ns.Ip("link", "set", "sllan1", "up");
        ns.Ip("-4", "address", "add", "10.5.0.1/24", "dev", "sllan0");
        ns.Ip("-4", "address", "add", "10.6.0.1/24", "dev", "sllan1");
        IpCommand.InNetns(ns.Name, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
        var plan = Plan(v6: false) with
        {
            Scope = new RouteScope([], [new UidRange(1000, 1000), new UidRange(3000, 3999)], [], ["sllan0"]),
        };
        var routes = new LinuxRouteTable(ns.Name);
        routes.Apply(plan);
        routes.Apply(plan); // twice: same state, no duplicate rules
        try
        {
            Assert.Single(ns.Ip("-4", "rule", "show").Split('\n'), l => l.Contains("uidrange 1000-1000", StringComparison.Ordinal));
            Assert.Contains("Permission denied", ns.TryIp("-4", "route", "get", "192.0.2.1", "uid", "1000").Stderr);
            Assert.Contains("Permission denied", ns.TryIp("-4", "route", "get", "192.0.2.1", "uid", "3500").Stderr);
            // Positive controls: a uid next to the ranges, and root, go into the TUN.
            Assert.Contains($"dev {Tun} table 2022", ns.Ip("-4", "route", "get", "192.0.2.1", "uid", "1001"));
            Assert.Contains($"dev {Tun} table 2022", ns.Ip("-4", "route", "get", "192.0.2.1", "uid", "0"));
            // Forwarded traffic: from the excluded interface → main; from another → TUN.
            Assert.Contains("Permission denied", ns.TryIp("-4", "route", "get", "192.0.2.1", "from", "10.5.0.2", "iif", "sllan0").Stderr);
            Assert.Contains($"dev {Tun} table 2022", ns.Ip("-4", "route", "get", "192.0.2.1", "from", "10.6.0.2", "iif", "sllan1"));
        }
        finally
        {
            routes.Remove(plan);
        }
        Assert.DoesNotContain("uidrange", ns.Ip("-4", "rule", "show"));
        Assert.DoesNotContain("nop", ns.Ip("-4", "rule", "show"));
        AssertClean(ns);
    }

    [Fact]
    public void IncludedUid_IsTheOnlyLocalUserInTheTun()
    {
        using var ns = new TestNamespace();
        using var tun = CreateTun(ns, v6: false);
        ns.Ip("-4", "route", "add", "prohibit", "192.0.2.0/24");
        var plan = Plan(v6: false) with { Scope = new RouteScope([new UidRange(2000, 2000)], [], [], []) };
        var routes = new LinuxRouteTable(ns.Name);
        routes.Apply(plan);
        try
        {
            Assert.Contains($"dev {Tun} table 2022", ns.Ip("-4", "route", "get", "192.0.2.1", "uid", "2000"));
            Assert.Contains("Permission denied", ns.TryIp("-4", "route", "get", "192.0.2.1", "uid", "2001").Stderr);
            Assert.Contains("Permission denied", ns.TryIp("-4", "route", "get", "192.0.2.1", "uid", "0").Stderr);
            // The included user's marked (engine) sockets still use the main table.
            Assert.Contains("Permission denied", ns.TryIp("-4", "route", "get", "192.0.2.1", "uid", "2000", "mark", "0x2022").Stderr);
        }
        finally
        {
            routes.Remove(plan);
        }
        AssertClean(ns);
    }

    [Fact]
    public void RemoveStale_ClearsAScopedRunsRules()
    {
        using var ns = new TestNamespace();
        using var tun = CreateTun(ns, v6: false);
        var plan = Plan(v6: false) with { Scope = new RouteScope([new UidRange(7, 7)], [new UidRange(8, 9)], [], ["x0"]) };
        new LinuxRouteTable(ns.Name).Apply(plan);
        Assert.Contains("uidrange 8-9", ns.Ip("-4", "rule", "show"));
        new LinuxRouteTable(ns.Name).RemoveStale(Plan(v6: false));
        string rules = ns.Ip("-4", "rule", "show");
        Assert.DoesNotContain("uidrange", rules);
        Assert.DoesNotContain("nop", rules);
        Assert.DoesNotContain("goto", rules);
        AssertClean(ns);
    }
}
