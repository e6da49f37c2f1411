using Sluice.Core.Tun;

namespace Sluice.Core.Gate;

/// <summary>One route of the main table, as the platform reads it.</summary>
/// <param name="Gateway">Null for a connected (on-link) route.</param>
public sealed record HostRoute(IpPrefix Destination, string? Gateway, string Device, string? Protocol);

/// <summary>
/// Finds routes that would pull traffic out of the tunnel if routing alone decided. Pure.
/// - TunnelVision (CVE-2024-3661): a DHCP server pushes option-121 routes for public prefixes via
///   the LAN gateway; more specific than the tunnel's default, they win in the main table.
/// - TunnelCrack LocalNet (CVE-2023-36672): the "local network" is a public prefix, so a client that
///   exempts its LAN sends traffic for those public addresses outside the tunnel.
/// Sluice's policy rule sends traffic to its own table before the main table, and the gate drops
/// held traffic to such routes when the engine is down; the warning tells the user who is trying.
/// </summary>
public static class RouteHijackDetector
{
    public static IReadOnlyList<string> Find(IEnumerable<HostRoute> routes, string tunName, bool gateClosed)
    {
        var warnings = new List<string>();
        string consequence = gateClosed
            ? "the gate drops held traffic to it; Sluice keeps routing it into the tunnel"
            : "Sluice keeps routing it into the tunnel while running, but no gate holds it when Sluice is down (set gate.mode)";
        foreach (var route in routes)
        {
            if (route.Destination.Length == 0 || route.Device == tunName || route.Device == "lo") continue;
            if (IsLocal(route.Destination)) continue;
            string proto = route.Protocol is { Length: > 0 } p ? $" proto {p}" : "";
            if (route.Gateway is not null)
            {
                warnings.Add($"route {route.Destination.Network}/{route.Destination.Length} via {route.Gateway} dev {route.Device}{proto} " +
                    $"would send public addresses out of {route.Device} instead of the tunnel (a pushed route such as DHCP option 121, TunnelVision); {consequence}");
            }
            else if (route.Destination.IsV4)
            {
                // A global IPv6 /64 on the link is normal (SLAAC); a public IPv4 "LAN" is not.
                warnings.Add($"the local network {route.Destination.Network}/{route.Destination.Length} on {route.Device}{proto} uses public addresses " +
                    $"(TunnelCrack LocalNet); allow_lan never exempts public ranges: {consequence}");
            }
        }
        return warnings;
    }

    /// <summary>Inside the ranges allow_lan may open (private, link-local), or loopback/multicast.</summary>
    public static bool IsLocal(IpPrefix prefix)
    {
        var ranges = prefix.IsV4
            ? GateRanges.LanV4.Concat(["127.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "0.0.0.0/8"])
            : GateRanges.LanV6.Concat(["::1/128", "ff00::/8"]);
        foreach (string r in ranges)
        {
            var range = IpPrefix.Parse(r);
            if (range.Length <= prefix.Length && range.Contains(prefix.Network)) return true;
        }
        return false;
    }
}
