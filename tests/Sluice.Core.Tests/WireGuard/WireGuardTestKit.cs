using System.Buffers.Binary;
using System.Net;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Tun;

namespace Sluice.Core.Tests.WireGuard;

/// <summary>A datagram or TUN packet copied out of a result.</summary>
internal static class Wg
{
    public static byte[] Bytes(byte[] buffer, WgResult result) => buffer.AsSpan(result.Offset, result.Length).ToArray();

    /// <summary>An IPv4/UDP packet whose payload starts with <paramref name="id"/>.</summary>
    public static byte[] Ipv4(string source, string destination, int id, int payload = 32)
    {
        var packet = new byte[28 + Math.Max(payload, 4)];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[8] = 64;
        packet[9] = 17;
        IPAddress.Parse(source).TryWriteBytes(packet.AsSpan(12), out _);
        IPAddress.Parse(destination).TryWriteBytes(packet.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), (ushort)(packet.Length - 20));
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(28), id);
        return packet;
    }

    /// <summary>An IPv6/UDP packet whose payload starts with <paramref name="id"/>.</summary>
    public static byte[] Ipv6(string source, string destination, int id, int payload = 32)
    {
        var packet = new byte[48 + Math.Max(payload, 4)];
        packet[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)(packet.Length - 40));
        packet[6] = 17;
        packet[7] = 64;
        IPAddress.Parse(source).TryWriteBytes(packet.AsSpan(8), out _);
        IPAddress.Parse(destination).TryWriteBytes(packet.AsSpan(24), out _);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(48), id);
        return packet;
    }

    public static int IdOf(ReadOnlySpan<byte> packet) =>
        BinaryPrimitives.ReadInt32BigEndian(packet[((packet[0] >> 4) == 4 ? 28 : 48)..]);

    /// <summary>Encapsulates a copy of <paramref name="packet"/>; the buffer has room for an initiation.</summary>
    public static (WgResult Result, byte[] Buffer) Encapsulate(WireGuardDevice device, byte[] packet)
    {
        var buffer = new byte[Math.Max(16 + packet.Length + 31, 256)];
        packet.CopyTo(buffer, 16);
        return (device.Encapsulate(buffer, 16, packet.Length), buffer);
    }

    /// <summary>Hands a datagram to a device as received from <paramref name="from"/>.</summary>
    public static (WgResult Result, byte[] Buffer) Receive(WireGuardDevice device, byte[] datagram, IPEndPoint from)
    {
        var buffer = new byte[datagram.Length + 40];
        datagram.CopyTo(buffer, 8);
        return (device.Decapsulate(buffer, 8, datagram.Length, from), buffer);
    }

    public static (WgResult Result, byte[] Buffer) Tick(WireGuardDevice device)
    {
        var buffer = new byte[2048];
        return (device.Tick(buffer), buffer);
    }

    public static (WgResult Result, byte[] Buffer) Drain(WireGuardDevice device)
    {
        var buffer = new byte[2048];
        return (device.DrainQueued(buffer), buffer);
    }
}

/// <summary>
/// Two in-memory devices: A (10.0.0.1, fd00::1) and B (10.0.0.2, fd00::2), each the other's only peer,
/// on one fake clock. Datagrams are moved by hand, so tests can drop, delay, replay or redirect them.
/// </summary>
internal sealed class WgPair
{
    public static readonly IPEndPoint AEndpoint = new(IPAddress.Parse("198.51.100.1"), 51820);
    public static readonly IPEndPoint BEndpoint = new(IPAddress.Parse("203.0.113.1"), 51821);

    public WgPair(bool presharedKey = false, bool bKnowsA = true, TimeSpan? aKeepalive = null, byte[]? bPresharedKey = null)
    {
        (APrivate, APublic) = WireGuardKeys.Generate();
        (BPrivate, BPublic) = WireGuardKeys.Generate();
        byte[]? psk = presharedKey ? WireGuardKeys.Generate().Private : null;
        A = new WireGuardDevice(APrivate,
            [new WireGuardPeerConfig(BPublic, psk, BEndpoint, [IpPrefix.Parse("10.0.0.2/32"), IpPrefix.Parse("fd00::2/128")], aKeepalive, "B")],
            Clock);
        B = new WireGuardDevice(BPrivate,
            [new WireGuardPeerConfig(APublic, bPresharedKey ?? psk, bKnowsA ? AEndpoint : null, [IpPrefix.Parse("10.0.0.1/32"), IpPrefix.Parse("fd00::1/128")], null, "A")],
            Clock);
    }

    public FakeClock Clock { get; } = new();

    public byte[] APrivate { get; }

    public byte[] APublic { get; }

    public byte[] BPrivate { get; }

    public byte[] BPublic { get; }

    public WireGuardDevice A { get; }

    public WireGuardDevice B { get; }

    public WireGuardPeer PeerBOnA => A.Peers[0];

    public WireGuardPeer PeerAOnB => B.Peers[0];

    public static byte[] AToB(int id, int payload = 32) => Wg.Ipv4("10.0.0.1", "10.0.0.2", id, payload);

    public static byte[] BToA(int id, int payload = 32) => Wg.Ipv4("10.0.0.2", "10.0.0.1", id, payload);

    /// <summary>
    /// Full handshake started by <paramref name="initiator"/> with a data packet: initiation → response →
    /// keepalive (confirms the responder's session) → the queued packet, which must arrive. Returns it.
    /// </summary>
    public byte[] Handshake(bool aInitiates = true, int id = 1)
    {
        var (initiator, responder) = aInitiates ? (A, B) : (B, A);
        var (initiatorEndpoint, responderEndpoint) = aInitiates ? (AEndpoint, BEndpoint) : (BEndpoint, AEndpoint);
        var packet = aInitiates ? AToB(id) : BToA(id);

        var (init, initBuffer) = Wg.Encapsulate(initiator, packet);
        Assert.Equal(WgResultKind.SendDatagram, init.Kind);
        Assert.Equal(148, init.Length);
        var (response, responseBuffer) = Wg.Receive(responder, Wg.Bytes(initBuffer, init), initiatorEndpoint);
        Assert.Equal(WgResultKind.SendDatagram, response.Kind);
        Assert.Equal(92, response.Length);
        var (keepalive, keepaliveBuffer) = Wg.Receive(initiator, Wg.Bytes(responseBuffer, response), responderEndpoint);
        Assert.Equal(WgResultKind.SendDatagram, keepalive.Kind);
        Assert.Equal(32, keepalive.Length);
        var (confirmed, _) = Wg.Receive(responder, Wg.Bytes(keepaliveBuffer, keepalive), initiatorEndpoint);
        Assert.Equal(WgResultKind.None, confirmed.Kind);

        var (queued, queuedBuffer) = Wg.Drain(initiator);
        Assert.Equal(WgResultKind.SendDatagram, queued.Kind);
        Assert.Equal(WgResultKind.None, Wg.Drain(initiator).Result.Kind);
        var (delivered, deliveredBuffer) = Wg.Receive(responder, Wg.Bytes(queuedBuffer, queued), initiatorEndpoint);
        Assert.Equal(WgResultKind.WriteTun, delivered.Kind);
        return Wg.Bytes(deliveredBuffer, delivered);
    }

    /// <summary>Sends one packet from A to B (session must exist) and returns B's result and the inner packet.</summary>
    public (WgResult Result, byte[] Packet) SendAToB(byte[] packet)
    {
        var (sent, sentBuffer) = Wg.Encapsulate(A, packet);
        Assert.Equal(WgResultKind.SendDatagram, sent.Kind);
        var (received, buffer) = Wg.Receive(B, Wg.Bytes(sentBuffer, sent), AEndpoint);
        return (received, received.Kind == WgResultKind.WriteTun ? Wg.Bytes(buffer, received) : []);
    }

    public (WgResult Result, byte[] Packet) SendBToA(byte[] packet)
    {
        var (sent, sentBuffer) = Wg.Encapsulate(B, packet);
        Assert.Equal(WgResultKind.SendDatagram, sent.Kind);
        var (received, buffer) = Wg.Receive(A, Wg.Bytes(sentBuffer, sent), BEndpoint);
        return (received, received.Kind == WgResultKind.WriteTun ? Wg.Bytes(buffer, received) : []);
    }
}
