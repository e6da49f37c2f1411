using System.Net;
using Sluice.Core.Outbounds;

namespace Sluice.Platform.Linux;

/// <summary>The host's resolver through the C library (getaddrinfo: /etc/hosts, nsswitch, resolv.conf).</summary>
public sealed class SystemHostResolver : IHostResolver
{
    public static SystemHostResolver Instance { get; } = new();

    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
}
