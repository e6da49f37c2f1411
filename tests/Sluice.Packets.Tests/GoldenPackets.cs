using System.Buffers.Binary;
using Sluice.Packets;

namespace Sluice.Packets.Tests;

/// <summary>
/// Hand-built packets whose checksums were computed outside this code base (a separate Python
/// RFC 1071 implementation) and are restated as constants in the tests.
/// </summary>
internal static class GoldenPackets
{
    /// <summary>192.168.1.100:54321 → 93.184.216.34:443 SYN, MSS 1460, SACK-permitted, timestamps, NOP, WS 7.</summary>
    public const string V4TcpSyn = "4500003c1c4640004006268fc0a801645db8d822d43101bb1a2b3c4d00000000a002faf046810000020405b40402080a0001e2400000000001030307";

    /// <summary>[2001:db8::1]:5353 → [2001:db8::2]:53, traffic class 0xb8, flow label 0x12345, payload "hello dns" (odd).</summary>
    public const string V6Udp = "6b8123450011114020010db800000000000000000000000120010db800000000000000000000000214e90035001173d868656c6c6f20646e73";

    /// <summary>10.0.0.1 → 8.8.8.8 echo request id 0x1234 seq 1, 16 bytes "a".."p", TTL 63, no DF.</summary>
    public const string V4Echo = "4500002cabcd00003f01b5f30a000001080808080800a27f123400016162636465666768696a6b6c6d6e6f70";

    /// <summary>2001:db8::1 → 2001:db8::2 ICMPv6 echo request id 0x4321 seq 7, payload "0123456789a" (odd).</summary>
    public const string V6Echo = "6000000000133a4020010db800000000000000000000000120010db800000000000000000000000280007b0a432100073031323334353637383961";

    /// <summary>fe80::1 → ff02::16, hop-by-hop (router alert + PadN), UDP 1000 → 2000 payload "ab".</summary>
    public const string V6HopByHopUdp = "6000000000120001fe800000000000000000000000000001ff020000000000000000000000000016110005020000010003e807d0000a95256162";

    /// <summary>172.16.0.1 → 172.16.0.2 UDP 4000 → 5000 (48 bytes), first fragment: MF, offset 0, 24 bytes.</summary>
    public const string V4FirstFragment = "4500002c077720004011fb26ac100001ac1000020fa01388003006b1000102030405060708090a0b0c0d0e0f";

    /// <summary>The rest of the datagram above: offset 3 (24 bytes), no MF.</summary>
    public const string V4SecondFragment = "4500002c0777000340111b24ac100001ac100002101112131415161718191a1b1c1d1e1f2021222324252627";

    /// <summary>2001:db8::1 → 2001:db8::2, fragment header (offset 3, id 0xdeadbeef) then 8 bytes of UDP data.</summary>
    public const string V6NonFirstFragment = "6000000000102c4020010db800000000000000000000000120010db800000000000000000000000211000018deadbeef0000000000000000";

    public static readonly string[] All =
    [
        V4TcpSyn, V6Udp, V4Echo, V6Echo, V6HopByHopUdp, V4FirstFragment, V4SecondFragment, V6NonFirstFragment,
    ];

    public static byte[] Bytes(string hex) => Convert.FromHexString(hex);
}

/// <summary>
/// A deliberately naive RFC 1071 reference: byte by byte, big-endian word positions, with an
/// explicit pseudo-header buffer. Independent of <see cref="Checksum"/>'s word-at-a-time tricks.
/// </summary>
internal static class Reference
{
    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        long sum = 0;
        for (int i = 0; i < data.Length; i++) sum += i % 2 == 0 ? data[i] << 8 : data[i];
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    public static byte[] PseudoHeader(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, int length)
    {
        if (source.Length == 4)
        {
            var v4 = new byte[12];
            source.CopyTo(v4);
            destination.CopyTo(v4.AsSpan(4));
            v4[9] = protocol;
            BinaryPrimitives.WriteUInt16BigEndian(v4.AsSpan(10), (ushort)length);
            return v4;
        }
        var v6 = new byte[40];
        source.CopyTo(v6);
        destination.CopyTo(v6.AsSpan(16));
        BinaryPrimitives.WriteUInt32BigEndian(v6.AsSpan(32), (uint)length);
        v6[39] = protocol;
        return v6;
    }

    /// <summary>True when the transport checksum of an unfragmented packet is right, by the reference.</summary>
    public static bool TransportValid(byte[] packet)
    {
        Assert.True(IpPacket.TryParse(packet, out var ip));
        byte[] segment = ip.Payload.ToArray();
        if (ip.Protocol == IpProtocol.Icmp) return Checksum(segment) == 0;
        if (ip.Protocol == IpProtocol.Udp && ip.IsV4 && BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(6)) == 0) return true;
        byte[] all = [.. PseudoHeader(ip.SourceBytes, ip.DestinationBytes, ip.Protocol, segment.Length), .. segment];
        return Checksum(all) == 0;
    }

    public static bool HeaderValid(byte[] packet)
    {
        if (packet[0] >> 4 != 4) return true;
        return Checksum(packet.AsSpan(0, (packet[0] & 0xF) * 4)) == 0;
    }
}
