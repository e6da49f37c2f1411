using System.Net;

namespace Sluice.Core.Outbounds;

/// <summary>
/// Resolves a proxy server's host name through the engine's DNS server (its own sockets or a DNS
/// server's detour, never the TUN). Implemented by <see cref="Dns.DnsServer"/>.
/// </summary>
public interface IServerNameResolver
{
    /// <summary>
    /// Whether names go through the engine's DNS server: true for a DNS server tag, and for null (the
    /// route.default_domain_resolver) only when that is configured; false means the host's resolver.
    /// </summary>
    bool Covers(string? resolverTag);

    /// <summary>The addresses of <paramref name="host"/> and how long they may be kept; throws when there are none.</summary>
    ValueTask<ResolvedHost> ResolveAsync(string? resolverTag, string host, CancellationToken cancellationToken);

    /// <summary>route.default_domain_resolver's strategy, for servers whose outbound names no resolver of its own.</summary>
    Dns.DnsStrategy? DefaultStrategy => null;
}

/// <param name="Ttl">The smallest remaining TTL of the answers the addresses came from.</param>
public readonly record struct ResolvedHost(IReadOnlyList<IPAddress> Addresses, TimeSpan Ttl);
