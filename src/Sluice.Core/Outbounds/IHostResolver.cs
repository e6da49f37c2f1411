using System.Net;
using System.Net.Sockets;

namespace Sluice.Core.Outbounds;

/// <summary>
/// The host's resolver (getaddrinfo on Linux; the embedding app's on a phone): the engine's way to a name
/// when no DNS server of its own is configured for it. Reached through <see cref="ISocketFactory.Hosts"/>,
/// so a platform that owns the sockets also owns the names.
/// </summary>
public interface IHostResolver
{
    /// <summary>The addresses of <paramref name="host"/>; throws <see cref="SocketException"/> when the name does not resolve.</summary>
    ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>Choosing among a name's addresses.</summary>
public static class HostAddresses
{
    /// <summary>The first IPv4 address, else the first; null when there is none.</summary>
    public static IPAddress? Preferred(IReadOnlyList<IPAddress> addresses) =>
        addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();

    /// <summary>
    /// The address a domain_resolver strategy dials: prefer_ipv6 the first IPv6 address, else the first; ipv4_only /
    /// ipv6_only the first of that family or null; otherwise (none, prefer_ipv4) <see cref="Preferred"/>.
    /// </summary>
    public static IPAddress? Choose(IReadOnlyList<IPAddress> addresses, Dns.DnsStrategy? strategy) => strategy switch
    {
        Dns.DnsStrategy.PreferIpv6 => addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6) ?? addresses.FirstOrDefault(),
        Dns.DnsStrategy.Ipv4Only => addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork),
        Dns.DnsStrategy.Ipv6Only => addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6),
        _ => Preferred(addresses),
    };

    /// <summary>"server name X has no address" (<paramref name="what"/> = "server name X"), naming the family a strategy asked for.</summary>
    public static string NoAddress(string what, Dns.DnsStrategy? strategy) => strategy switch
    {
        Dns.DnsStrategy.Ipv4Only => $"{what} has no IPv4 address (strategy ipv4_only)",
        Dns.DnsStrategy.Ipv6Only => $"{what} has no IPv6 address (strategy ipv6_only)",
        _ => $"{what} has no address",
    };
}
