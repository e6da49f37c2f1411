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
}
