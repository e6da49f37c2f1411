using SharpFuzz;
using Sluice.Fuzz.Targets;

namespace Sluice.Fuzz;

/// <summary>
/// SharpFuzz harness. Usage: <c>Sluice.Fuzz &lt;target&gt; [--libfuzzer]</c>. Without
/// <c>--libfuzzer</c> it speaks AFL's fork-server protocol (run under afl-fuzz); with it, libFuzzer's
/// (run via libfuzzer-dotnet). Targets are registered in <see cref="Targets"/>.
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, ReadOnlySpanAction> Targets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["packets"] = PacketParserFuzzTarget.Run,
        ["wireguard"] = WireGuardFuzzTarget.Run,
        ["dns"] = DnsFuzzTarget.Run,
        ["tls"] = TlsFuzzTarget.Run,
        ["vision"] = VisionFuzzTarget.Run,
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Targets.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: Sluice.Fuzz <target> [--libfuzzer]; targets: {string.Join(", ", Targets.Keys)}");
            return 2;
        }

        if (args.Contains("--libfuzzer"))
        {
            Fuzzer.LibFuzzer.Run(target);
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
