using System.Net;
using System.Net.Sockets;
using Sluice.Core.Outbounds.Socks;
using Sluice.Packets;

namespace Sluice.Core.Outbounds;

/// <summary>
/// A proxy request may name its destination (curl --socks5-hostname, HTTP proxy requests). Proxy
/// outbounds pass the name on so the server resolves it; every other outbound needs an address, which
/// is resolved here with the system resolver.
/// </summary>
internal static class NameResolution
{
    private static readonly HashSet<string> TakesNames = new(StringComparer.Ordinal) { "shadowsocks", "socks", "http", "trojan" };

    public static async ValueTask<Destination> ForOutboundAsync(IOutbound outbound, Destination destination, CancellationToken cancellationToken)
    {
        if (!SocksAddress.UsesDomain(destination) || TakesNames.Contains(outbound.Type)) return destination;
        if (outbound is Outbounds.Groups.OutboundGroup group && TakesNames.Contains(group.Current?.Type ?? "")) return destination;
        try
        {
            var addresses = await System.Net.Dns.GetHostAddressesAsync(destination.Domain!, cancellationToken);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new OutboundException($"{destination.Domain} has no address");
            return destination with { Address = NetAddress.FromIPAddress(chosen) };
        }
        catch (SocketException e)
        {
            throw new OutboundException($"cannot resolve {destination.Domain}: {e.SocketErrorCode}", e);
        }
    }
}
