using System.Net.Sockets;

namespace Sluice.Core.Outbounds;

/// <summary>
/// Creates the sockets the engine uses to reach the outside. Every one carries the engine's
/// routing mark, so policy routing sends it by the main table instead of back into the TUN, and
/// the gate lets it through.
/// </summary>
public interface ISocketFactory
{
    Socket CreateTcp(AddressFamily family);

    Socket CreateUdp(AddressFamily family);

    /// <summary>A socket able to send ICMP / ICMPv6 echo requests and receive their replies.</summary>
    Socket CreateIcmp(AddressFamily family);
}
