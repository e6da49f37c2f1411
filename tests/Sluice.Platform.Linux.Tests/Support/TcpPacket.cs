using System.Buffers.Binary;

namespace Sluice.Platform.Linux.Tests.Support;

/// <summary>Builds and checks IPv4/IPv6 TCP segments by hand (independent of Sluice.Packets).</summary>
internal static class TcpPacket
{
    public const byte Fin = 1, Syn = 2, Rst = 4, Psh = 8, Ack = 16, Cwr = 128;

    /// <summary>Addresses of a test flow: 4 or 16 bytes each.</summary>
    public sealed record Flow(byte[] Source, byte[] Destination, ushort SourcePort, ushort DestinationPort)
    {
        public bool V4 => Source.Length == 4;

        public static Flow V4Flow(byte last = 2) => new([10, 66, 0, last], [10, 66, 0, 1], 40000, 5201);

        public static Flow V6Flow(byte last = 2) => new(
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last], [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 40000, 5201);
    }

    public static byte[] Build(Flow flow, uint sequence, uint acknowledgment, byte flags, ReadOnlySpan<byte> payload,
        ushort id = 0x1000, ushort window = 501, byte[]? options = null)
    {
        options ??= [];
        int ipHeader = flow.V4 ? 20 : 40;
        int tcpHeader = 20 + options.Length;
        var packet = new byte[ipHeader + tcpHeader + payload.Length];
        var ip = packet.AsSpan();
        if (flow.V4)
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)packet.Length);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
            ip[6] = 0x40; // DF
            ip[8] = 64;
            ip[9] = 6;
            flow.Source.CopyTo(ip[12..]);
            flow.Destination.CopyTo(ip[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], UdpPacket.Checksum(ip[..20], 0));
        }
        else
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(packet.Length - 40));
            ip[6] = 6;
            ip[7] = 64;
            flow.Source.CopyTo(ip[8..]);
            flow.Destination.CopyTo(ip[24..]);
        }
        var tcp = ip[ipHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, flow.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], flow.DestinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], acknowledgment);
        tcp[12] = (byte)(tcpHeader / 4 << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], window);
        options.CopyTo(tcp[20..]);
        payload.CopyTo(tcp[tcpHeader..]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], UdpPacket.Checksum(tcp, PseudoSum(packet, tcp.Length)));
        return packet;
    }

    /// <summary>True when the IPv4 header checksum (if any) and the TCP checksum are right.</summary>
    public static bool ChecksumsValid(ReadOnlySpan<byte> packet)
    {
        bool v4 = packet[0] >> 4 == 4;
        int ipHeader = v4 ? (packet[0] & 0xF) * 4 : 40;
        if (v4 && UdpPacket.Checksum(packet[..ipHeader], 0) != 0) return false;
        return UdpPacket.Checksum(packet[ipHeader..], PseudoSum(packet, packet.Length - ipHeader)) == 0;
    }

    public static uint Sequence(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt32BigEndian(packet[(IpHeader(packet) + 4)..]);

    public static byte Flags(ReadOnlySpan<byte> packet) => packet[IpHeader(packet) + 13];

    public static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> packet)
    {
        int ip = IpHeader(packet);
        return packet[(ip + (packet[ip + 12] >> 4) * 4)..];
    }

    public static int IpHeader(ReadOnlySpan<byte> packet) => packet[0] >> 4 == 4 ? (packet[0] & 0xF) * 4 : 40;

    public static uint PseudoSum(ReadOnlySpan<byte> packet, int tcpLength)
    {
        var addresses = packet[0] >> 4 == 4 ? packet[12..20] : packet[8..40];
        uint sum = 6u + (uint)tcpLength;
        for (int i = 0; i < addresses.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(addresses[i..]);
        return sum;
    }
}
