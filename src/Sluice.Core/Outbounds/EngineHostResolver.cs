using System.Net;

namespace Sluice.Core.Outbounds;

/// <summary>
/// The host's names as getaddrinfo would give them — the hosts file first, then DNS — but with DNS asked by the engine's
/// DNS server (its resolver for the engine's own lookups: route.default_domain_resolver, else the first local server,
/// else the nameservers of resolv.conf) through its own sockets, which bypass the TUN. Used where getaddrinfo goes
/// wrong: with auto_route the C library's unmarked queries enter the engine's own TUN, where a fakeip server may
/// answer them with an address nobody can dial.
/// </summary>
internal sealed class EngineHostResolver(Dns.DnsServer engine, Dns.HostsTable? hostsFile) : IHostResolver
{
    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (hostsFile is not null && hostsFile.TryGet(host.TrimEnd('.').ToLowerInvariant(), out var known) && known.Length > 0)
            return [.. known.Select(a => a.ToIPAddress())];
        return [.. await engine.ResolveForEngineAsync(host, cancellationToken)];
    }
}
