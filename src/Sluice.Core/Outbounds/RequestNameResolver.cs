using System.Net;

namespace Sluice.Core.Outbounds;

/// <summary>
/// Resolves the names proxy requests carry (socks5-hostname, HTTP proxy requests) for outbounds that need an address
/// (direct, WireGuard). The host's resolver (getaddrinfo: /etc/hosts, nsswitch) unless route.default_domain_resolver
/// is set or the TUN routes the host's own traffic: the engine's resolver queries are not marked, so the TUN would
/// carry them to the engine's own DNS server, which may answer a fake address nobody can dial. Then the engine's
/// DNS server for its own lookups answers instead (its sockets bypass the TUN).
/// </summary>
internal sealed class RequestNameResolver(IHostResolver host, Dns.DnsServer engine, bool useEngine) : IHostResolver
{
    public async ValueTask<IPAddress[]> ResolveAsync(string name, CancellationToken cancellationToken)
    {
        if (!useEngine) return await host.ResolveAsync(name, cancellationToken);
        return [.. await engine.ResolveForEngineAsync(name, cancellationToken)];
    }

    /// <summary>For <paramref name="engine"/>'s config: whether its own DNS server resolves request names (see the class).</summary>
    public static RequestNameResolver For(IHostResolver host, Dns.DnsServer engine, bool tunRoutesTheHost) =>
        new(host, engine, engine.Covers(resolverTag: null) || tunRoutesTheHost);
}
