using Sluice.Core.Outbounds.Vision;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// Vision's frame decoding over untrusted bytes (the downlink a server sends), for SharpFuzz
/// (fuzz/Sluice.Fuzz "vision") and the bounded run in the unit tests: the input, cut into reads of sizes the
/// input itself picks, goes through the unpadder (which must never write more than it read) and the TLS
/// filter, and each read through the whole-records check. Any exception is a bug.
/// </summary>
public static class VisionFuzzTarget
{
    private static readonly byte[] UserId = [.. Enumerable.Range(1, 16).Select(i => (byte)i)];

    public static void Run(ReadOnlySpan<byte> data)
    {
        var unpadder = new VisionUnpadder(UserId);
        var traffic = new VisionTrafficState();
        var output = new byte[VisionFrames.BufferSize];
        int position = 0;
        while (position < data.Length)
        {
            int size = 1 + data[position] * 37 % VisionFrames.BufferSize;
            var read = data.Slice(position, Math.Min(size, data.Length - position));
            position += read.Length;
            int written = unpadder.Unpad(read, output);
            if (written > read.Length) throw new InvalidOperationException($"the unpadder wrote {written} bytes from a {read.Length}-byte read");
            traffic.Filter(output.AsSpan(0, written));
            VisionFrames.IsWholeApplicationDataRecords(read);
        }
    }
}
