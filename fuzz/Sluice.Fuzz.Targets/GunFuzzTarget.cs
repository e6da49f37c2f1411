using Sluice.Core.Outbounds.Transport;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// A gRPC server's gun messages (untrusted network bytes) through <see cref="GunDecoder"/>: decoded whole and again
/// cut at every few bytes with a small output buffer (lengths, keys and data split across reads, as they arrive),
/// the two must agree on the data and on whether the input is refused; no read may consume more than it was given
/// or write more than its output. Only InvalidDataException is a refusal; anything else is a bug.
/// </summary>
public static class GunFuzzTarget
{
    private const int MaxMessage = 64 * 1024;

    public static void Run(ReadOnlySpan<byte> data)
    {
        var (whole, wholeRefused) = Decode(data, data.Length == 0 ? 1 : data.Length, data.Length + 1);
        int step = data.IsEmpty ? 1 : 1 + data[0] % 7;
        var (cut, cutRefused) = Decode(data, step, 3);
        if (wholeRefused != cutRefused) throw new InvalidOperationException($"refused whole: {wholeRefused}, refused in pieces of {step}: {cutRefused}");
        if (!wholeRefused && !whole.AsSpan().SequenceEqual(cut)) throw new InvalidOperationException($"in pieces of {step} the data differs");
        if (whole.Length > data.Length) throw new InvalidOperationException("more data out than bytes in");
    }

    private static (byte[] Data, bool Refused) Decode(ReadOnlySpan<byte> data, int piece, int outputSize)
    {
        var decoder = new GunDecoder(MaxMessage);
        var output = new byte[outputSize];
        var result = new List<byte>();
        try
        {
            for (int at = 0; at < data.Length;)
            {
                var input = data.Slice(at, Math.Min(piece, data.Length - at));
                int offered = input.Length;
                while (!input.IsEmpty)
                {
                    int used = decoder.Decode(input, output, out int written);
                    if (used < 0 || used > input.Length || written < 0 || written > output.Length)
                        throw new InvalidOperationException($"consumed {used} of {input.Length}, wrote {written} of {output.Length}");
                    if (used == 0 && written == 0) throw new InvalidOperationException("no progress");
                    result.AddRange(output.AsSpan(0, written));
                    input = input[used..];
                }
                at += offered;
            }
            return ([.. result], false);
        }
        catch (InvalidDataException)
        {
            return ([.. result], true);
        }
    }
}
