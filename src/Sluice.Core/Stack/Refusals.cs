using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// The one place the engine answers an app's packet with a refusal, written to the TUN from the refused
/// packet's destination: a TCP segment gets a RST, anything else ICMP (v4 or v6) "administratively prohibited".
/// </summary>
internal static class Refusals
{
    /// <summary>RST for TCP, ICMP unreachable otherwise; <paramref name="scratch"/> holds the answer while it is written.</summary>
    public static void Refuse(ITunDevice tun, Span<byte> scratch, in IpPacket packet)
    {
        if (packet.Protocol == IpProtocol.Tcp) Reset(tun, scratch, packet);
        else Unreachable(tun, scratch, packet);
    }

    public static void Reset(ITunDevice tun, Span<byte> scratch, in IpPacket packet)
    {
        int n = PacketBuilder.TcpReset(scratch, packet);
        if (n > 0) tun.Write(scratch[..n]);
    }

    public static void Unreachable(ITunDevice tun, Span<byte> scratch, in IpPacket packet)
    {
        int n = PacketBuilder.IcmpUnreachable(scratch, packet, packet.IsV4 ? IcmpCodes.V4AdministrativelyProhibited : IcmpCodes.V6AdministrativelyProhibited);
        if (n > 0) tun.Write(scratch[..n]);
    }
}
