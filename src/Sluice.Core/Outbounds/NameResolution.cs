using System.Net;
using System.Net.Sockets;
using Sluice.Core.Outbounds.Socks;
using Sluice.Packets;

namespace Sluice.Core.Outbounds;

/// <summary>
/// A proxy request may name its destination (curl --socks5-hostname, HTTP proxy requests). Proxy
/// outbounds pass the name on so the server resolves it; every other outbound needs an address, which
/// is resolved here (the host's resolver, or <see cref="EngineHostResolver"/> where getaddrinfo would go wrong).
/// </summary>
internal static class NameResolution
{
    private static readonly HashSet<string> TakesNames = new(StringComparer.Ordinal) { "shadowsocks", "socks", "http", "trojan", "vless", "vmess" };

    public static async ValueTask<Destination> ForOutboundAsync(IOutbound outbound, Destination destination, IHostResolver hosts, CancellationToken cancellationToken)
    {
        if (!SocksAddress.UsesDomain(destination) || TakesNames.Contains(outbound.Type)) return destination;
        if (outbound is Outbounds.Groups.OutboundGroup group && TakesNames.Contains(group.Current?.Type ?? "")) return destination;
        var strategy = DirectStrategy(outbound);
        try
        {
            var addresses = await hosts.ResolveAsync(destination.Domain!, cancellationToken);
            var chosen = HostAddresses.Choose(addresses, strategy)
                ?? throw new OutboundException(HostAddresses.NoAddress(destination.Domain!, strategy));
            return destination with { Address = NetAddress.FromIPAddress(chosen) };
        }
        catch (SocketException e)
        {
            throw new OutboundException($"cannot resolve {destination.Domain}: {e.SocketErrorCode}", e);
        }
        catch (Dns.DnsLookupException e)
        {
            throw new OutboundException(e.Message, e); // names the name, the DNS server and why
        }
    }

    /// <summary>The domain_strategy of the direct outbound that carries a flow routed to <paramref name="outbound"/> (a group: its current member).</summary>
    public static Dns.DnsStrategy? DirectStrategy(IOutbound outbound) =>
        (Groups.OutboundGroup.Carrier(outbound) as Direct.DirectOutbound)?.DomainStrategy;
}
