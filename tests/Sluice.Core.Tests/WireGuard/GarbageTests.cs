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
        var random = new Random(2024);
        var seeds = Seeds();
        // Every input builds fresh devices (and, for the session stages, runs a whole handshake): fewer
        // rounds than a stateless target, each one reaching further.
        for (int i = 0; i < 20_000; i++)
        {
            var input = seeds[random.Next(seeds.Count)].ToArray();
            int mutations = 1 + random.Next(4);
            for (int m = 0; m < mutations; m++) input = Mutate(input, random);
            WireGuardFuzzTarget.Run(input);
        }
    }

    // Real messages and sessions (WireGuardFuzzTarget.Seeds), so mutations start past the cheap checks.
    private static List<byte[]> Seeds() => [.. WireGuardFuzzTarget.Seeds().Select(seed => seed.Bytes)];

    private static byte[] Mutate(byte[] input, Random random)
    {
        switch (random.Next(6))
        {
            case 0 when input.Length > 0:
                input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
                return input;
            case 1 when input.Length > 0:
                input[random.Next(input.Length)] = (byte)random.Next(256);
                return input;
            case 2 when input.Length > 0:
                return input[..random.Next(input.Length)];
            case 3:
                var longer = new byte[input.Length + 1 + random.Next(32)];
                input.CopyTo(longer, 0);
                random.NextBytes(longer.AsSpan(input.Length));
                return longer;
            case 4 when input.Length >= 4:
                input[0] = (byte)random.Next(6);
                return input;
            default:
                return input;
        }
    }
}
