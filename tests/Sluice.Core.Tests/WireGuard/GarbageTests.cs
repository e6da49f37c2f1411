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
