using Sluice.Core.Dns;
using Sluice.Packets;

namespace Sluice.Core.Configuration;

/// <summary>
/// Outbounds that would reach their own server through themselves. An outbound depends on:
/// 1. its detour (the server is dialed through it);
/// 2. a group's members (the group dials through whichever is chosen);
/// 3. the detour of the DNS server that resolves its server's name (domain_resolver, else
///    route.default_domain_resolver).
/// A cycle with at least one edge of kind 1 or 3 would never connect (each dial waits for the next),
/// so it is a config error at the detour (or domain_resolver) of the first outbound in it. Cycles of
/// groups alone are the groups' own check.
/// </summary>
internal static class DetourLoops
{
    private enum Edge { Detour, Member, Resolver }

    public static void Check(ConfigBuilder config)
    {
        // Duplicate tags are reported elsewhere; the first of a tag stands for it here.
        var outbounds = new Dictionary<string, OutboundOptions>(StringComparer.Ordinal);
        foreach (var o in config.Outbounds) outbounds.TryAdd(o.Tag, o);
        var dnsDetours = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in config.Dns.Servers.OfType<RemoteDnsServerOptions>())
            if (s.Detour is not null) dnsDetours.TryAdd(s.Tag, s.Detour);

        List<(string To, Edge Kind)> EdgesOf(string tag)
        {
            var edges = new List<(string, Edge)>();
            if (!outbounds.TryGetValue(tag, out var o)) return edges;
            if (o is GroupOutboundOptions group) edges.AddRange(group.Members.Select(m => (m, Edge.Member)));
            if (ProxyServerOptions.Of(o) is not { } server) return edges;
            if (server.Detour is { } detour) edges.Add((detour, Edge.Detour));
            if (!NetAddress.TryParse(server.Server.Trim('[', ']'), out _)
                && (server.DomainResolver ?? config.Route.DefaultDomainResolver) is { } resolver
                && dnsDetours.TryGetValue(resolver, out var dnsDetour))
                edges.Add((dnsDetour, Edge.Resolver));
            return edges;
        }

        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var start in config.Outbounds)
        {
            var first = EdgesOf(start.Tag).Where(e => e.Kind != Edge.Member).ToList();
            if (first.Count == 0 || !config.OutboundPaths.TryGetValue(start.Tag, out var path)) continue;
            foreach (var (to, kind) in first)
            {
                if (kind == Edge.Detour && to == start.Tag) continue; // its own detour: the parser says so
                if ((to == start.Tag ? [start.Tag, start.Tag] : ShortestPathBack(start.Tag, to, EdgesOf)) is not { } loop) continue;
                string key = string.Join(",", loop.Distinct().Order(StringComparer.Ordinal));
                if (!reported.Add(key)) continue;
                string chain = string.Join(" -> ", loop);
                string field = kind == Edge.Detour ? "detour" : "domain_resolver";
                config.Errors.Add(JsonPath.Field(path, field), kind == Edge.Detour
                    ? $"detour loop {chain}: each outbound reaches its server through the next (a group through its members), so none can connect; remove one of the detours"
                    : $"loop {chain}: the DNS server that resolves this outbound's server name is reached through the outbound itself; give the server as an address or pick a resolver without that detour");
            }
        }
    }

    /// <summary>The shortest chain start -> from -> … -> start, or null when <paramref name="start"/> is not reachable.</summary>
    private static List<string>? ShortestPathBack(string start, string from, Func<string, List<(string To, Edge Kind)>> edges)
    {
        var parent = new Dictionary<string, string?>(StringComparer.Ordinal) { [from] = null };
        var queue = new Queue<string>([from]);
        while (queue.Count > 0)
        {
            string node = queue.Dequeue();
            if (node == start)
            {
                var chain = new List<string>();
                for (string? n = node; n is not null; n = parent[n]) chain.Add(n);
                chain.Add(start);
                chain.Reverse();
                return chain;
            }
            foreach (var (to, _) in edges(node))
                if (parent.TryAdd(to, node)) queue.Enqueue(to);
        }
        return null;
    }
}
