using System.Net;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Tun;

namespace Sluice.Core.Tests.WireGuard;

public class HandshakeTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Handshake_InitiatedByA_CarriesDataBothWays(bool presharedKey)
    {
        var pair = new WgPair(presharedKey);
        var first = pair.Handshake(aInitiates: true, id: 7);
        Assert.Equal(7, Wg.IdOf(first));

        for (int i = 0; i < 5; i++)
        {
            var (toB, packetB) = pair.SendAToB(WgPair.AToB(100 + i, payload: 13 + i * 50));
            Assert.Equal(WgResultKind.WriteTun, toB.Kind);
            Assert.Equal(WgPair.AToB(100 + i, payload: 13 + i * 50), packetB);
            var (toA, packetA) = pair.SendBToA(WgPair.BToA(200 + i));
            Assert.Equal(WgResultKind.WriteTun, toA.Kind);
            Assert.Equal(200 + i, Wg.IdOf(packetA));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Handshake_InitiatedByB_CarriesDataBothWays(bool presharedKey)
    {
        var pair = new WgPair(presharedKey);
        pair.Handshake(aInitiates: false);
        Assert.Equal(WgResultKind.WriteTun, pair.SendAToB(WgPair.AToB(1)).Result.Kind);
        Assert.Equal(WgResultKind.WriteTun, pair.SendBToA(WgPair.BToA(2)).Result.Kind);
    }

    [Fact]
    public void Handshake_ThenReverseHandshake_KeepsDataFlowing()
    {
        var pair = new WgPair();
        pair.Handshake(aInitiates: true);
        pair.Clock.Advance(6);
        pair.B.ForceHandshake();
        var (init, initBuffer) = Wg.Tick(pair.B);
        Assert.Equal(148, init.Length);
        var (response, responseBuffer) = Wg.Receive(pair.A, Wg.Bytes(initBuffer, init), WgPair.BEndpoint);
        Assert.Equal(92, response.Length);
        var (keepalive, keepaliveBuffer) = Wg.Receive(pair.B, Wg.Bytes(responseBuffer, response), WgPair.AEndpoint);
        Assert.Equal(32, keepalive.Length);
        Assert.Equal(WgResultKind.None, Wg.Receive(pair.A, Wg.Bytes(keepaliveBuffer, keepalive), WgPair.BEndpoint).Result.Kind);

        Assert.Equal(WgResultKind.WriteTun, pair.SendAToB(WgPair.AToB(1)).Result.Kind);
        Assert.Equal(WgResultKind.WriteTun, pair.SendBToA(WgPair.BToA(2)).Result.Kind);
    }

    [Fact]
    public void Handshake_OverIpv6Packets_Works()
    {
        var pair = new WgPair();
        pair.Handshake();
        var packet = Wg.Ipv6("fd00::1", "fd00::2", 42, payload: 100);
        var (result, delivered) = pair.SendAToB(packet);
        Assert.Equal(WgResultKind.WriteTun, result.Kind);
        Assert.Equal(packet, delivered);
    }

    [Fact]
    public void HandshakeCompleted_IsRaised_AndLastHandshakeSet_OnBothSides()
    {
        var pair = new WgPair();
        var completed = new List<string>();
        pair.A.HandshakeCompleted += peer => completed.Add("A:" + peer.Name);
        pair.B.HandshakeCompleted += peer => completed.Add("B:" + peer.Name);
        Assert.Null(pair.PeerBOnA.LastHandshake);
        pair.Handshake();
        Assert.Equal(["A:B", "B:A"], completed);
        Assert.Equal(pair.Clock.GetUtcNow(), pair.PeerBOnA.LastHandshake);
        Assert.Equal(pair.Clock.GetUtcNow(), pair.PeerAOnB.LastHandshake);
        Assert.True(pair.PeerBOnA.TxBytes > 0 && pair.PeerAOnB.RxBytes > 0);
    }

    [Fact]
    public void Initiation_WithWrongPeerPublicKey_IsDroppedNamingTheSource()
    {
        var pair = new WgPair();
        var (_, wrongKey) = WireGuardKeys.Generate();
        var confused = new WireGuardDevice(pair.APrivate,
            [new WireGuardPeerConfig(wrongKey, null, WgPair.BEndpoint, [IpPrefix.Parse("10.0.0.2/32")], null, "B")], pair.Clock);
        var (init, buffer) = Wg.Encapsulate(confused, WgPair.AToB(1));
        var (result, _) = Wg.Receive(pair.B, Wg.Bytes(buffer, init), WgPair.AEndpoint);
        Assert.Equal(WgResultKind.Dropped, result.Kind);
        Assert.Contains("handshake from 198.51.100.1:51820 failed", result.Reason);
        Assert.Contains("wrong peer public key?", result.Reason);
    }

    [Fact]
    public void Initiation_FromUnknownPeer_IsDroppedNamingItsKey()
    {
        var pair = new WgPair();
        var (strangerPrivate, strangerPublic) = WireGuardKeys.Generate();
        var stranger = new WireGuardDevice(strangerPrivate,
            [new WireGuardPeerConfig(pair.BPublic, null, WgPair.BEndpoint, [IpPrefix.Parse("10.0.0.2/32")], null, "B")], pair.Clock);
        var (init, buffer) = Wg.Encapsulate(stranger, WgPair.AToB(1));
        var (result, _) = Wg.Receive(pair.B, Wg.Bytes(buffer, init), WgPair.AEndpoint);
        Assert.Equal(WgResultKind.Dropped, result.Kind);
        Assert.Contains(Convert.ToBase64String(strangerPublic), result.Reason);
        Assert.Contains("not one of our peers", result.Reason);
    }

    [Fact]
    public void Response_WithMismatchedPresharedKey_IsDropped()
    {
        var pair = new WgPair(presharedKey: true, bPresharedKey: WireGuardKeys.Generate().Private);
        var (init, initBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var (response, responseBuffer) = Wg.Receive(pair.B, Wg.Bytes(initBuffer, init), WgPair.AEndpoint);
        Assert.Equal(WgResultKind.SendDatagram, response.Kind); // the PSK only enters with the response
        var (result, _) = Wg.Receive(pair.A, Wg.Bytes(responseBuffer, response), WgPair.BEndpoint);
        Assert.Equal(WgResultKind.Dropped, result.Kind);
        Assert.Contains("preshared key mismatch", result.Reason);
        Assert.Null(pair.PeerBOnA.LastHandshake);
    }

    [Fact]
    public void ReplayedInitiation_WithSameTimestamp_IsRejected()
    {
        var pair = new WgPair();
        var (init, initBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var captured = Wg.Bytes(initBuffer, init);
        Assert.Equal(WgResultKind.SendDatagram, Wg.Receive(pair.B, captured, WgPair.AEndpoint).Result.Kind);
        pair.Clock.Advance(1);
        var (replayed, _) = Wg.Receive(pair.B, captured, new IPEndPoint(IPAddress.Parse("192.0.2.66"), 4444));
        Assert.Equal(WgResultKind.Dropped, replayed.Kind);
        Assert.Contains("replayed initiation", replayed.Reason);
        Assert.Equal(WgPair.AEndpoint, pair.PeerAOnB.Endpoint); // a replay does not move the endpoint
    }

    [Fact]
    public void Initiations_LessThan20msApart_AreRejectedAsFlood()
    {
        // Separate clocks: A's has moved past REKEY_TIMEOUT (so it retries with a newer timestamp) while B's barely moved.
        var clockA = new FakeClock();
        var clockB = new FakeClock();
        var (aPrivate, aPublic) = WireGuardKeys.Generate();
        var (bPrivate, bPublic) = WireGuardKeys.Generate();
        var a = new WireGuardDevice(aPrivate, [new WireGuardPeerConfig(bPublic, null, WgPair.BEndpoint, [IpPrefix.Parse("10.0.0.2/32")], null, "B")], clockA);
        var b = new WireGuardDevice(bPrivate, [new WireGuardPeerConfig(aPublic, null, null, [IpPrefix.Parse("10.0.0.1/32")], null, "A")], clockB);

        var (first, firstBuffer) = Wg.Encapsulate(a, WgPair.AToB(1));
        Assert.Equal(WgResultKind.SendDatagram, Wg.Receive(b, Wg.Bytes(firstBuffer, first), WgPair.AEndpoint).Result.Kind);

        clockA.Advance(5.5);
        var (second, secondBuffer) = Wg.Tick(a);
        Assert.Equal(148, second.Length);
        var retry = Wg.Bytes(secondBuffer, second);

        clockB.Advance(TimeSpan.FromMilliseconds(10));
        var (flood, _) = Wg.Receive(b, retry, WgPair.AEndpoint);
        Assert.Equal(WgResultKind.Dropped, flood.Kind);
        Assert.Contains("less than 20 ms apart", flood.Reason);

        clockB.Advance(TimeSpan.FromMilliseconds(15));
        Assert.Equal(WgResultKind.SendDatagram, Wg.Receive(b, retry, WgPair.AEndpoint).Result.Kind);
    }

    [Fact]
    public void Initiator_SendsAtMostOneInitiationPerRekeyTimeout()
    {
        var pair = new WgPair();
        Assert.Equal(WgResultKind.SendDatagram, Wg.Encapsulate(pair.A, WgPair.AToB(1)).Result.Kind);
        pair.Clock.Advance(2);
        Assert.Equal(WgResultKind.None, Wg.Encapsulate(pair.A, WgPair.AToB(2)).Result.Kind);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.A).Result.Kind);
        Assert.Equal(2, pair.PeerBOnA.QueuedCount);
    }

    [Fact]
    public void Peers_WithLowOrderOrOwnOrDuplicateKeys_AreRefused()
    {
        var (privateKey, publicKey) = WireGuardKeys.Generate();
        var (_, other) = WireGuardKeys.Generate();
        WireGuardPeerConfig Peer(byte[] key, string name = "p") => new(key, null, null, [], null, name);

        var zero = Assert.Throws<ArgumentException>(() => new WireGuardDevice(privateKey, [Peer(new byte[32], "zero")], TimeProvider.System));
        Assert.Contains("\"zero\"", zero.Message);
        Assert.Contains("low-order", zero.Message);
        var order8 = Convert.FromHexString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
        Assert.Throws<ArgumentException>(() => new WireGuardDevice(privateKey, [Peer(order8)], TimeProvider.System));
        Assert.Throws<ArgumentException>(() => new WireGuardDevice(privateKey, [Peer(publicKey)], TimeProvider.System));
        Assert.Throws<ArgumentException>(() => new WireGuardDevice(privateKey, [Peer(other, "x"), Peer(other, "y")], TimeProvider.System));
        Assert.Throws<ArgumentException>(() => new WireGuardDevice(privateKey, [Peer(new byte[31])], TimeProvider.System));
        Assert.Throws<ArgumentException>(() => new WireGuardDevice(new byte[16], [], TimeProvider.System));
    }

    [Fact]
    public void IncomingPacket_WithSourceOutsidePeersAllowedIps_IsDropped()
    {
        var pair = new WgPair();
        pair.Handshake();
        var (result, _) = pair.SendAToB(Wg.Ipv4("10.0.0.99", "10.0.0.2", 5));
        Assert.Equal(WgResultKind.Dropped, result.Kind);
        Assert.Contains("outside its allowed IPs", result.Reason);
    }

    [Fact]
    public void OutgoingPacket_ToNoPeersAllowedIps_IsDropped()
    {
        var pair = new WgPair();
        var (result, _) = Wg.Encapsulate(pair.A, Wg.Ipv4("10.0.0.1", "8.8.8.8", 1));
        Assert.Equal(WgResultKind.Dropped, result.Kind);
        Assert.Contains("8.8.8.8", result.Reason);
    }

    [Fact]
    public void Encapsulate_WritesHeaderBeforeAndTagAfter_InPlace()
    {
        var pair = new WgPair();
        pair.Handshake();
        var packet = WgPair.AToB(9, payload: 33); // 61 bytes → padded to 64
        var buffer = new byte[100 + packet.Length + 31];
        packet.CopyTo(buffer, 100);
        var result = pair.A.Encapsulate(buffer, 100, packet.Length);
        Assert.Equal(WgResultKind.SendDatagram, result.Kind);
        Assert.Equal(100 - WireGuardDevice.TransportHeaderSize, result.Offset);
        Assert.Equal(16 + 64 + 16, result.Length);
        Assert.Equal(4, buffer[result.Offset]);
        Assert.Equal(WgPair.BEndpoint, result.Destination);
        var (received, receivedBuffer) = Wg.Receive(pair.B, Wg.Bytes(buffer, result), WgPair.AEndpoint);
        Assert.Equal(packet, Wg.Bytes(receivedBuffer, received)); // padding stripped by the IP total length
    }
}
