using System.Net;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Fuzz.Targets;

namespace Sluice.Core.Tests.WireGuard;

public class GarbageTests
{
    private static readonly IPEndPoint Stranger = new(IPAddress.Parse("192.0.2.99"), 1234);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GarbageDatagrams_OfEveryTypeAndLength_AreDropped(bool underLoad)
    {
        var pair = new WgPair();
        pair.Handshake();
        pair.B.UnderLoad = underLoad;
        var random = new Random(underLoad ? 1 : 2);
        uint[] types = [0, 1, 2, 3, 4, 5, 255, 0x0100_0001, 0xFFFF_FFFF];
        foreach (uint type in types)
        {
            for (int length = 0; length <= 200; length++)
            {
                var datagram = new byte[length];
                random.NextBytes(datagram);
                if (length >= 4) BitConverter.TryWriteBytes(datagram, type);
                var (result, _) = Wg.Receive(pair.B, datagram, Stranger);
                Assert.Equal(WgResultKind.Dropped, result.Kind);
                Assert.False(string.IsNullOrEmpty(result.Reason));
            }
        }
        Assert.Equal(WgPair.AEndpoint, pair.PeerAOnB.Endpoint);
    }

    /// <summary>
    /// A junk flood on the port (random bytes, unknown sessions, initiations and responses without our mac1, cookie
    /// replies for nothing) costs no allocation per datagram: the reason is put into words only when read (logged).
    /// </summary>
    [Fact]
    public void JunkAnyoneCanSend_IsDroppedWithoutAllocating_AndStillSaysWhyWhenAsked()
    {
        var pair = new WgPair();
        pair.Handshake();
        var random = new Random(7);
        (uint Type, int Length, string Why)[] kinds =
            [(9, 60, "is not a WireGuard message"), (4, 64, "names no session"), (1, 148, "bad mac1"), (2, 92, "bad mac1"), (3, 64, "answers no message")];
        foreach (var (type, length, why) in kinds)
        {
            var datagrams = Enumerable.Range(0, 64).Select(_ =>
            {
                var d = new byte[length];
                random.NextBytes(d);
                BitConverter.TryWriteBytes(d, type);
                return d;
            }).ToArray();
            var copy = new byte[length];
            datagrams[0].CopyTo(copy, 0);
            Assert.Contains(why, pair.B.Decapsulate(copy, 0, length, Stranger).Reason);

            int notDropped = 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                datagrams[(i + 1) % datagrams.Length].CopyTo(copy, 0);
                if (pair.B.Decapsulate(copy, 0, length, Stranger).Kind != WgResultKind.Dropped) notDropped++;
            }
            long perDatagram = (GC.GetAllocatedBytesForCurrentThread() - before) / 10_000;
            Assert.Equal(0, notDropped);
            Assert.True(perDatagram == 0, $"type {type}: {perDatagram} bytes allocated per junk datagram");
        }
    }

    [Fact]
    public void TransportMessages_ForALiveSession_WithRandomBody_AreDropped()
    {
        var pair = new WgPair();
        pair.Handshake();
        var (sent, buffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var template = Wg.Bytes(buffer, sent);
        var random = new Random(5);
        for (int i = 0; i < 2000; i++)
        {
            var datagram = new byte[32 + random.Next(200)];
            random.NextBytes(datagram);
            template.AsSpan(0, 8).CopyTo(datagram); // real type and receiver index
            var (result, _) = Wg.Receive(pair.B, datagram, Stranger);
            Assert.Equal(WgResultKind.Dropped, result.Kind);
        }
        Assert.Equal(WgPair.AEndpoint, pair.PeerAOnB.Endpoint);
        Assert.Equal(WgResultKind.WriteTun, Wg.Receive(pair.B, template, WgPair.AEndpoint).Result.Kind);
    }

    [Fact]
    public void FuzzTarget_SurvivesMutatedMessages()
    {
        // Every input builds fresh devices (and, for the session stages, runs a whole handshake): fewer
        // rounds than a stateless target, each one reaching further.
        MutationCampaign.RunBounded(WireGuardFuzzTarget.Run, Seeds(), rounds: 20_000, seed: 2024);
    }

    // Real messages and sessions (WireGuardFuzzTarget.Seeds), so mutations start past the cheap checks.
    private static List<byte[]> Seeds() => [.. WireGuardFuzzTarget.Seeds().Select(seed => seed.Bytes)];
}
