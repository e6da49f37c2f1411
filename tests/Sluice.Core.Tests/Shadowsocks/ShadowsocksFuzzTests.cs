using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Fuzz.Targets;

namespace Sluice.Core.Tests.Shadowsocks;

/// <summary>Bounded, deterministic stand-ins for the SharpFuzz runs of "obfs" and "ss2022": mutated seeds and random bytes.</summary>
public sealed class ShadowsocksFuzzTests
{
    private const int Iterations = 10_000;

    private static byte[][] ObfsSeeds()
    {
        byte[] prelude = new byte[ObfsTlsSeedLength];
        prelude[0] = 0x16;
        prelude[5] = 2;
        prelude[96] = 0x14;
        prelude[101] = 1;
        prelude[102] = 0x16;
        prelude[106] = 4;
        return
        [
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nabc"u8.ToArray(),
            [.. prelude, 1, 2, 3, 4, 0x17, 3, 3, 0, 2, 9, 9],
            [0, 4, 0, 1, 2, 1, 0, 3, 7, 7, 7, 0, 4, 0, 1, 3, 0],
        ];
    }

    private const int ObfsTlsSeedLength = 107;

    [Fact]
    public void ObfsAndMuxDecoders_SurviveMutatedInputs() => Run(b => ShadowsocksFuzzTarget.RunObfs(b), ObfsSeeds(), 1);

    [Fact]
    public void Shadowsocks2022Decoders_SurviveMutatedInputs()
    {
        var body = new byte[64];
        body[0] = 1;
        Run(b => ShadowsocksFuzzTarget.Run2022(b), [body, new byte[120], [1, 0, 0, 0, 0, 0x69, 0x55, 0xb9, 0x00]], 2);
    }

    private static void Run(Action<byte[]> target, byte[][] seeds, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input;
            if (i % 10 == 0)
            {
                input = new byte[random.Next(0, 300)];
                random.NextBytes(input);
            }
            else
            {
                byte[] s = seeds[random.Next(seeds.Length)];
                input = s[..random.Next(0, s.Length + 1)];
                if (random.Next(3) == 0) input = [.. input, .. Enumerable.Range(0, random.Next(1, 40)).Select(_ => (byte)random.Next(256))];
                for (int flips = random.Next(0, 4); flips > 0 && input.Length > 0; flips--) input[random.Next(input.Length)] = (byte)random.Next(256);
            }
            try
            {
                target(input);
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i}: {e.GetType().Name}: {e.Message}\ninput: {Convert.ToHexString(input)}\n{e.StackTrace}");
            }
        }
    }
}
