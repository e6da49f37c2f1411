using System.Net;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.WireGuard;

public class CookieTests
{
    [Fact]
    public void Mac1_Verifies_AndACorruptedMac1IsDropped()
    {
        var pair = new WgPair();
        var (init, buffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var message = Wg.Bytes(buffer, init);
        Assert.True(new CookieChecker(pair.BPublic).CheckMac1(message, 116));
        Assert.False(new CookieChecker(pair.APublic).CheckMac1(message, 116));

        message[120] ^= 0x80;
        var (result, _) = Wg.Receive(pair.B, message, WgPair.AEndpoint);
        Assert.Equal(WgResultKind.Dropped, result.Kind);
        Assert.Contains("bad mac1", result.Reason);
        Assert.Equal(0, pair.B.Peers[0].RxBytes); // rejected before any DH
    }

    [Fact]
    public void UnderLoad_InitiationWithoutMac2_GetsCookieReply_AndRetryWithMac2IsAccepted()
    {
        var pair = new WgPair();
        pair.B.UnderLoad = true;
        var (init, initBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var first = Wg.Bytes(initBuffer, init);
        Assert.All(first[132..148], b => Assert.Equal(0, b)); // no cookie yet: mac2 is zero

        var (reply, replyBuffer) = Wg.Receive(pair.B, first, WgPair.AEndpoint);
        Assert.Equal(WgResultKind.SendDatagram, reply.Kind);
        Assert.Equal(64, reply.Length);
        Assert.Null(reply.Peer); // the sender is not authenticated yet
        Assert.Equal(WgPair.AEndpoint, reply.Destination);
        var cookieReply = Wg.Bytes(replyBuffer, reply);
        Assert.Equal(3, cookieReply[0]);
        Assert.Null(pair.PeerAOnB.LastHandshake);

        Assert.Equal(WgResultKind.None, Wg.Receive(pair.A, cookieReply, WgPair.BEndpoint).Result.Kind);
        // A cookie reply is good once: it authenticates against the mac1 of our last message only.
        Assert.Equal(WgResultKind.Dropped, Wg.Receive(pair.A, cookieReply, WgPair.BEndpoint).Result.Kind);

        pair.Clock.Advance(5.4);
        var (retry, retryBuffer) = Wg.Tick(pair.A);
        Assert.Equal(148, retry.Length);
        var second = Wg.Bytes(retryBuffer, retry);
        Assert.Contains(second[132..148], b => b != 0);

        // mac2 is bound to the source address: from elsewhere it is another cookie reply.
        var elsewhere = new IPEndPoint(IPAddress.Parse("198.51.100.1"), 60000);
        Assert.Equal(64, Wg.Receive(pair.B, second, elsewhere).Result.Length);

        var (response, responseBuffer) = Wg.Receive(pair.B, second, WgPair.AEndpoint);
        Assert.Equal(WgResultKind.SendDatagram, response.Kind);
        Assert.Equal(92, response.Length);
        var (keepalive, _) = Wg.Receive(pair.A, Wg.Bytes(responseBuffer, response), WgPair.BEndpoint);
        Assert.Equal(32, keepalive.Length);
        Assert.NotNull(pair.PeerBOnA.LastHandshake);
    }

    [Fact]
    public void CookieReply_ThatDoesNotAuthenticate_IsDropped()
    {
        var pair = new WgPair();
        pair.B.UnderLoad = true;
        var (init, initBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var (reply, replyBuffer) = Wg.Receive(pair.B, Wg.Bytes(initBuffer, init), WgPair.AEndpoint);
        var cookieReply = Wg.Bytes(replyBuffer, reply);
        cookieReply[40] ^= 1;
        var (result, _) = Wg.Receive(pair.A, cookieReply, WgPair.BEndpoint);
        Assert.Equal(WgResultKind.Dropped, result.Kind);
        Assert.Contains("does not authenticate", result.Reason);
    }

    [Fact]
    public void UnderLoad_ValidMac2_IsStillRateLimitedPerSource()
    {
        var pair = new WgPair();
        pair.B.UnderLoad = true;
        var (init, initBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var (reply, replyBuffer) = Wg.Receive(pair.B, Wg.Bytes(initBuffer, init), WgPair.AEndpoint);
        Wg.Receive(pair.A, Wg.Bytes(replyBuffer, reply), WgPair.BEndpoint);
        pair.Clock.Advance(5.4);
        var (retry, retryBuffer) = Wg.Tick(pair.A);
        var withMac2 = Wg.Bytes(retryBuffer, retry);

        // Burst of 5 per source passes the limiter (the first is answered, the rest are replays); the 6th and on are limited.
        var reasons = Enumerable.Range(0, 10).Select(_ => Wg.Receive(pair.B, withMac2, WgPair.AEndpoint).Result).ToList();
        Assert.Equal(WgResultKind.SendDatagram, reasons[0].Kind);
        Assert.All(reasons.Skip(1).Take(4), r => Assert.Contains("replayed", r.Reason));
        Assert.All(reasons.Skip(5), r => Assert.Contains("rate-limited", r.Reason));

        pair.Clock.Advance(TimeSpan.FromMilliseconds(60)); // 20 per second: one token back after 50 ms
        Assert.Contains("replayed", Wg.Receive(pair.B, withMac2, WgPair.AEndpoint).Result.Reason);
        Assert.Contains("rate-limited", Wg.Receive(pair.B, withMac2, WgPair.AEndpoint).Result.Reason);
    }

    [Fact]
    public void RateLimiter_KeepsSeparateBucketsPerSource_AndForgetsIdleOnes()
    {
        var limiter = new SourceRateLimiter();
        long now = TimeSpan.TicksPerDay;
        var one = IPAddress.Parse("192.0.2.1");
        var two = IPAddress.Parse("192.0.2.2");
        Assert.Equal(5, Enumerable.Range(0, 10).Count(_ => limiter.Allow(one, now)));
        Assert.True(limiter.Allow(two, now));
        // IPv6 sources share a bucket per /64.
        Assert.Equal(5, Enumerable.Range(0, 5).Count(i => limiter.Allow(IPAddress.Parse($"2001:db8::{i + 1}"), now)));
        Assert.False(limiter.Allow(IPAddress.Parse("2001:db8::99"), now));
        Assert.True(limiter.Allow(IPAddress.Parse("2001:db8:1::1"), now));
        Assert.Equal(4, limiter.Count);
        now += 3 * TimeSpan.TicksPerSecond;
        Assert.True(limiter.Allow(one, now));
        Assert.Equal(1, limiter.Count);
    }

    [Fact]
    public void UnderLoad_TurnsOnByItself_WhenHandshakesFlood()
    {
        var pair = new WgPair();
        var (init, initBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var message = Wg.Bytes(initBuffer, init);
        Assert.False(pair.B.UnderLoad);
        for (int i = 0; i < 130; i++) Wg.Receive(pair.B, message, WgPair.AEndpoint);
        Assert.True(pair.B.UnderLoad);
        Assert.Equal(64, Wg.Receive(pair.B, message, WgPair.AEndpoint).Result.Length); // cookie reply now
        pair.Clock.Advance(2.5);
        Assert.False(pair.B.UnderLoad);
    }
}
