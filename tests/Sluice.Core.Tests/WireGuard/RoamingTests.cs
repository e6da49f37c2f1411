using System.Net;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.WireGuard;

public class RoamingTests
{
    private static readonly IPEndPoint NewAddress = new(IPAddress.Parse("192.0.2.200"), 40000);

    [Fact]
    public void Endpoint_Moves_OnlyAfterAnAuthenticatedDataPacket()
    {
        var pair = new WgPair();
        pair.Handshake();
        Assert.Equal(WgPair.AEndpoint, pair.PeerAOnB.Endpoint);

        var garbage = new byte[100];
        new Random(3).NextBytes(garbage);
        garbage[0] = 4;
        garbage[1] = garbage[2] = garbage[3] = 0;
        Assert.Equal(WgResultKind.Dropped, Wg.Receive(pair.B, garbage, NewAddress).Result.Kind);
        Assert.Equal(WgPair.AEndpoint, pair.PeerAOnB.Endpoint);

        var (sent, sentBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(5));
        var datagram = Wg.Bytes(sentBuffer, sent);
        var forged = datagram.ToArray();
        forged[^1] ^= 1;
        Assert.Equal(WgResultKind.Dropped, Wg.Receive(pair.B, forged, NewAddress).Result.Kind);
        Assert.Equal(WgPair.AEndpoint, pair.PeerAOnB.Endpoint);

        Assert.Equal(WgResultKind.WriteTun, Wg.Receive(pair.B, datagram, NewAddress).Result.Kind);
        Assert.Equal(NewAddress, pair.PeerAOnB.Endpoint);

        // A replay of that packet from the old address is not authenticated anew: no move back.
        Assert.Equal(WgResultKind.Dropped, Wg.Receive(pair.B, datagram, WgPair.AEndpoint).Result.Kind);
        Assert.Equal(NewAddress, pair.PeerAOnB.Endpoint);

        var (reply, _) = Wg.Encapsulate(pair.B, WgPair.BToA(6));
        Assert.Equal(NewAddress, reply.Destination);
    }

    [Fact]
    public void Endpoint_Moves_OnAnAuthenticatedInitiation()
    {
        var pair = new WgPair(bKnowsA: false);
        Assert.Null(pair.PeerAOnB.Endpoint);
        var (init, buffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var (response, _) = Wg.Receive(pair.B, Wg.Bytes(buffer, init), NewAddress);
        Assert.Equal(WgResultKind.SendDatagram, response.Kind);
        Assert.Equal(NewAddress, pair.PeerAOnB.Endpoint);
        Assert.Equal(NewAddress, response.Destination);
    }

    [Fact]
    public void ResponderWithoutEndpoint_QueuesUntilThePeerConnects()
    {
        var pair = new WgPair(bKnowsA: false);
        var (result, _) = Wg.Encapsulate(pair.B, WgPair.BToA(1));
        Assert.Equal(WgResultKind.None, result.Kind);
        Assert.Equal(1, pair.PeerAOnB.QueuedCount);
        pair.Handshake(aInitiates: true, id: 2);
        var (queued, queuedBuffer) = Wg.Drain(pair.B);
        Assert.Equal(WgResultKind.SendDatagram, queued.Kind);
        var (delivered, deliveredBuffer) = Wg.Receive(pair.A, Wg.Bytes(queuedBuffer, queued), WgPair.BEndpoint);
        Assert.Equal(WgResultKind.WriteTun, delivered.Kind);
        Assert.Equal(1, Wg.IdOf(deliveredBuffer.AsSpan(delivered.Offset, delivered.Length)));
    }
}
