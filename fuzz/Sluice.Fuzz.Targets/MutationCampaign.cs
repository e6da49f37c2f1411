using System.Diagnostics;
using System.Security.Cryptography;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// A fuzz campaign without AFL: random mutations (bit flips, byte sets, truncation, random tails, splices of
/// two seeds) of the seed corpus, for a given time, through one target. Not coverage-guided, so it explores
/// less than AFL per execution, but it needs nothing installed and every failing input is kept:
/// 1. each round picks a seed and applies 1–4 mutations (seeded from the round number: a run repeats);
/// 2. an input whose run throws is written to <c>outDir/crash-SHA</c> (once per distinct input);
/// 3. the result counts executions and distinct failures.
/// </summary>
public static class MutationCampaign
{
    public static (long Executions, int Failures) Run(FuzzTarget target, IReadOnlyList<byte[]> seeds, TimeSpan duration, string outDir, int seed = 1)
    {
        if (seeds.Count == 0) throw new ArgumentException("a campaign needs at least one seed", nameof(seeds));
        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        long executions = 0;
        var failures = new HashSet<string>();
        while (clock.Elapsed < duration)
        {
            var input = Mutated(seeds, random);
            executions++;
            try
            {
                target(input);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                string id = Convert.ToHexString(SHA256.HashData(input))[..16].ToLowerInvariant();
                if (failures.Add(id))
                {
                    Directory.CreateDirectory(outDir);
                    File.WriteAllBytes(Path.Combine(outDir, "crash-" + id), input);
                    File.WriteAllText(Path.Combine(outDir, "crash-" + id + ".txt"), e.ToString());
                }
            }
        }
        return (executions, failures.Count);
    }

    /// <summary>
    /// The bounded form the unit tests run: <paramref name="rounds"/> mutated inputs (seeded, so a run
    /// repeats); the first input whose run throws fails with that input in the message.
    /// </summary>
    public static void RunBounded(FuzzTarget target, IReadOnlyList<byte[]> seeds, int rounds, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < rounds; i++)
        {
            var input = Mutated(seeds, random);
            try
            {
                target(input);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"round {i}: input {Convert.ToHexString(input)} failed: {e.Message}", e);
            }
        }
    }

    /// <summary>One input: a seed with 1–4 mutations.</summary>
    public static byte[] Mutated(IReadOnlyList<byte[]> seeds, Random random)
    {
        var input = seeds[random.Next(seeds.Count)].ToArray();
        for (int m = 1 + random.Next(4); m > 0; m--) input = Mutate(input, seeds, random);
        return input;
    }

    private static byte[] Mutate(byte[] input, IReadOnlyList<byte[]> seeds, Random random)
    {
        switch (random.Next(7))
        {
            case 0 when input.Length > 0:
                input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
                return input;
            case 1 when input.Length > 0:
                input[random.Next(input.Length)] = (byte)random.Next(256);
                return input;
            case 2 when input.Length > 1:
                return input[..random.Next(1, input.Length)];
            case 3:
                var longer = new byte[input.Length + 1 + random.Next(64)];
                input.CopyTo(longer, 0);
                random.NextBytes(longer.AsSpan(input.Length));
                return longer;
            case 4 when input.Length >= 2:
                // An interesting length or count: 0, 1, 0x7f, 0x80, 0xff, 0xffff.
                int at = random.Next(input.Length - 1);
                ushort value = (ushort)new[] { 0, 1, 0x7f, 0x80, 0xff, 0xffff }[random.Next(6)];
                input[at] = (byte)(value >> 8);
                input[at + 1] = (byte)value;
                return input;
            case 5:
                var other = seeds[random.Next(seeds.Count)];
                int cut = random.Next(input.Length + 1);
                return [.. input.AsSpan(0, cut), .. other.AsSpan(random.Next(other.Length + 1))];
            default:
                return input;
        }
    }
}
