using System.Globalization;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Network;

namespace Sluice.Platform.Linux;

/// <summary>
/// <c>ip -batch</c> scripts per address family. A batch line cannot carry <c>-4</c>/<c>-6</c>, and
/// <c>ip rule</c> picks its family only from that option, so each family is its own batch
/// (<c>ip -4 -batch -</c>, <c>ip -6 -batch -</c>). Empty text = nothing for that family.
/// </summary>
public readonly record struct FamilyBatches(string V4, string V6);

/// <summary>The operations behind <see cref="FamilyBatches"/>, per family (empty = nothing for that family).</summary>
public readonly record struct FamilyOperations(IReadOnlyList<NetworkOperation> V4, IReadOnlyList<NetworkOperation> V6)
{
    public FamilyBatches Render() => new(NetworkOperation.RenderBatch(V4), NetworkOperation.RenderBatch(V6));
}

/// <summary>
/// Renders auto_route for Linux policy routing. Pure: no I/O, golden-tested.
/// 1. Table <c>plan.Table</c>, per family the TUN has: <c>0.0.0.0/0</c> / <c>::/0</c> into the TUN,
///    or only the route_address prefixes of that family; a <c>throw</c> route per
///    route_exclude_address prefix, so the lookup falls through to the main table.
/// 2. strict_route, for a family the TUN lacks: an <c>unreachable</c> default, so that family fails
///    fast instead of leaking by the main table.
/// 3. Rule at <c>plan.RulePriority</c>: <c>not fwmark M lookup T</c>. The engine's sockets carry M
///    and use the main table; the local table (pref 0) still wins, so local delivery works.
/// 4. The route scope (<see cref="RouteScopeRules"/>): rules just before and after the TUN rule that
///    send excluded users and interfaces past it to the main table, in the kernel.
/// 5. nftables <c>inet sluice_route</c>: TCP connections (and pings) that arrive on a physical interface
///    get ct mark M, and their replies get meta mark M in a route-type output chain (which re-routes after
///    the mark changes), so the host's own TCP servers answer by the main table, the way they were reached.
///    Not UDP: a marked reply passes the gate, and any remote sender could open a direct UDP path out of
///    a protected app that listens on a port (a DNS-like exchange with no connection to show for it).
/// 6. The same table drops marked packets whose route leads into the TUN: the engine's own traffic never comes back
///    in through it. Marked traffic takes the main table, and a main-table route into the TUN (a default route given
///    without <c>dev</c> while the engine runs resolves its gateway through the TUN) made the engine's WireGuard datagrams
///    loop: each routed direct by the final rule, whose marked socket sent it into the TUN again from a new port, ~600
///    sessions a second (bench/README, soak5). The engine sends nothing marked to the TUN on purpose (its sockets
///    bound to the TUN are unmarked; answers are written to the TUN's fd), so the sends fail at once (EPERM) instead.
///    At postrouting, not output: an output chain sees the interface of the route before the reply marking of item 5
///    re-routed the packet, so it dropped the host's replies that item 5 had just sent back out of the physical link.
/// </summary>
public static class AutoRouteRenderer
{
    public const string NftTable = "sluice_route";

    /// <summary>Routes first, rule last: the rule only starts steering once its table is complete.</summary>
    public static FamilyBatches RenderApply(AutoRoutePlan plan) => ApplyOperations(plan).Render();

    /// <summary>Rule first, so traffic stops entering the table before its routes go.</summary>
    public static FamilyBatches RenderRemove(AutoRoutePlan plan) => RemoveOperations(plan).Render();

    public static FamilyOperations ApplyOperations(AutoRoutePlan plan) => new(Apply(plan, v4: true), Apply(plan, v4: false));

    public static FamilyOperations RemoveOperations(AutoRoutePlan plan) => new(Remove(plan, v4: true), Remove(plan, v4: false));

    /// <summary>
    /// The whole <c>inet sluice_route</c> table for <c>nft -f</c>. It opens by creating then deleting
    /// the table, so one atomic transaction replaces any previous copy: applying twice changes nothing.
    /// </summary>
    public static string RenderNftables(AutoRoutePlan plan)
    {
        string mark = Mark(plan.FwMark);
        return $$"""
            table inet {{NftTable}} {}
            delete table inet {{NftTable}}
            table inet {{NftTable}} {
            	chain prerouting {
            		type filter hook prerouting priority mangle; policy accept;
            		iifname != { "{{plan.TunName}}", "lo" } meta l4proto { tcp, icmp, ipv6-icmp } ct state new ct mark set {{mark}}
            	}
            	chain output {
            		type route hook output priority mangle; policy accept;
            		ct mark {{mark}} meta mark set ct mark
            	}
            	chain marked_into_tun {
            		type filter hook postrouting priority filter; policy accept;
            		oifname "{{plan.TunName}}" meta mark {{mark}} drop
            	}
            }

            """;
    }

    /// <summary>Deletes the nftables table; succeeds whether or not it exists.</summary>
    public static string RenderNftablesRemove() =>
        $"table inet {NftTable} {{}}\ndelete table inet {NftTable}\n";

    private static List<NetworkOperation> Apply(AutoRoutePlan plan, bool v4)
    {
        var operations = new List<NetworkOperation>();
        if (!FamilyRouted(plan, v4)) return operations;
        foreach (var route in Routes(plan, v4)) operations.Add(route with { Verb = RouteVerb.Replace });
        foreach (var rule in RouteScopeRules.Render(plan)) operations.Add(new RuleOperation(true, v4, rule));
        operations.Add(new RuleOperation(true, v4, Rule(plan)));
        return operations;
    }

    private static List<NetworkOperation> Remove(AutoRoutePlan plan, bool v4)
    {
        var operations = new List<NetworkOperation>();
        if (!FamilyRouted(plan, v4)) return operations;
        operations.Add(new RuleOperation(false, v4, Rule(plan)));
        foreach (var rule in RouteScopeRules.Render(plan).Reverse()) operations.Add(new RuleOperation(false, v4, rule));
        foreach (var route in Routes(plan, v4)) operations.Add(route);
        return operations;
    }

    /// <summary>A family gets a rule when the TUN carries it, or when strict_route closes it.</summary>
    private static bool FamilyRouted(AutoRoutePlan plan, bool v4) =>
        (v4 ? plan.HasV4 : plan.HasV6) || plan.StrictRoute;

    /// <summary>The table's routes of one family, as deletes (Apply turns them into replaces).</summary>
    private static IEnumerable<RouteOperation> Routes(AutoRoutePlan plan, bool v4)
    {
        uint table = (uint)plan.Table;
        var any = IpPrefix.Parse(v4 ? "0.0.0.0/0" : "::/0");
        bool hasFamily = v4 ? plan.HasV4 : plan.HasV6;
        if (hasFamily)
        {
            bool routedSome = false;
            foreach (var prefix in plan.RouteAddress)
            {
                if (prefix.IsV4 != v4) continue;
                routedSome = true;
                yield return new RouteOperation(RouteVerb.Delete, RouteKind.Unicast, prefix, plan.TunName, table);
            }
            if (!routedSome) yield return new RouteOperation(RouteVerb.Delete, RouteKind.Unicast, any, plan.TunName, table);
        }
        else
        {
            yield return new RouteOperation(RouteVerb.Delete, RouteKind.Unreachable, any, null, table);
        }
        foreach (var prefix in plan.RouteExcludeAddress)
        {
            if (prefix.IsV4 != v4) continue;
            yield return new RouteOperation(RouteVerb.Delete, RouteKind.Throw, prefix, null, table);
        }
    }

    private static RuleSpec Rule(AutoRoutePlan plan) =>
        new(plan.RulePriority, Not: true, FwMark: plan.FwMark, Lookup: (uint)plan.Table);

    private static string Mark(uint mark) => "0x" + mark.ToString("x", CultureInfo.InvariantCulture);
}
