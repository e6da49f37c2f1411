using SharpFuzz;
using Sluice.Fuzz.Targets;

namespace Sluice.Fuzz;

/// <summary>
/// SharpFuzz harness. Usage: <c>Sluice.Fuzz &lt;target&gt; [--libfuzzer]</c>. Without
/// <c>--libfuzzer</c> it speaks AFL's fork-server protocol (run under afl-fuzz); with it, libFuzzer's
/// (run via libfuzzer-dotnet). Targets are registered in <see cref="FuzzTargetTable"/>; fuzz/run.sh drives it.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["seeds", var dir])
        {
            // Seeds that need the real encoder (WireGuard's MACs and sessions); the rest are files in fuzz/corpus.
            Directory.CreateDirectory(Path.Combine(dir, "wireguard"));
            foreach (var (name, bytes) in WireGuardFuzzTarget.Seeds()) File.WriteAllBytes(Path.Combine(dir, "wireguard", name), bytes);
            return 0;
        }
        // Without AFL: Sluice.Fuzz TARGET --mutate SECONDS SEED_DIR OUT_DIR (fuzz/run.sh falls back to it).
        if (args is [var targetName, "--mutate", var seconds, var seedDir, var outDir] && FuzzTargetTable.All.TryGetValue(targetName, out var mutated))
        {
            var seeds = Directory.EnumerateFiles(seedDir).Order().Select(File.ReadAllBytes).ToList();
            var (executions, failures) = MutationCampaign.Run(mutated, seeds, TimeSpan.FromSeconds(int.Parse(seconds)), outDir);
            Console.WriteLine($"executions={executions} failures={failures}");
            return failures == 0 ? 0 : 1;
        }

        if (args.Length == 0 || !FuzzTargetTable.All.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: Sluice.Fuzz <target> [--libfuzzer]; targets: {string.Join(", ", FuzzTargetTable.All.Keys)}");
            return 2;
        }

        if (args.Contains("--libfuzzer"))
        {
            Fuzzer.LibFuzzer.Run(span => target(span));
        }
        else
        {
            // AFL hands each input as a stream; copying it to an array is the harness's cost, not the target's.
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var memory = new MemoryStream();
                stream.CopyTo(memory);
                target(memory.GetBuffer().AsSpan(0, (int)memory.Length));
            });
        }
        return 0;
    }
}
