using System.Buffers.Binary;
using Sluice.Packets;

namespace Sluice.Packets.Tests;

/// <summary>Builds arbitrary TCP packets for tests, checksummed by the reference implementation.</summary>
internal static class TcpPackets
{
    public static int Build(Span<byte> destination, NetAddress source, ushort sourcePort, NetAddress target, ushort targetPort,
        TcpFlags flags, byte[] options, byte[] payload, uint sequence = 1000, uint acknowledgment = 0)
    {
        Assert.Equal(0, options.Length % 4);
        bool v4 = source.IsV4;
        int ipLength = v4 ? 20 : 40;
        int tcpLength = 20 + options.Length + payload.Length;
        Span<byte> ip = destination[..(ipLength + tcpLength)];
        ip.Clear();
        byte[] src = new byte[source.Length], dst = new byte[target.Length];
        source.WriteTo(src);
        target.WriteTo(dst);
        if (v4)
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipLength + tcpLength));
            ip[8] = 64;
            ip[9] = IpProtocol.Tcp;
            src.CopyTo(ip[12..]);
            dst.CopyTo(ip[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Reference.Checksum(ip[..20]));
        }
        else
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)tcpLength);
            ip[6] = IpProtocol.Tcp;
            ip[7] = 64;
            src.CopyTo(ip[8..]);
            dst.CopyTo(ip[24..]);
        }
        Span<byte> tcp = ip[ipLength..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], targetPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], acknowledgment);
        tcp[12] = (byte)((20 + options.Length) / 4 << 4);
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        options.CopyTo(tcp[20..]);
        payload.CopyTo(tcp[(20 + options.Length)..]);
        byte[] all = [.. Reference.PseudoHeader(src, dst, IpProtocol.Tcp, tcpLength), .. tcp];
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Reference.Checksum(all));
        return ipLength + tcpLength;
    }

    public static byte[] Build(NetAddress source, ushort sourcePort, NetAddress target, ushort targetPort,
        TcpFlags flags, byte[]? options = null, byte[]? payload = null, uint sequence = 1000, uint acknowledgment = 0)
    {
        byte[] buffer = new byte[70000];
        int length = Build(buffer, source, sourcePort, target, targetPort, flags, options ?? [], payload ?? [], sequence, acknowledgment);
        return buffer[..length];
    }
}
