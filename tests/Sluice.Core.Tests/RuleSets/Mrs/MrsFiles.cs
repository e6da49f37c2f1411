using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using Sluice.Core.RuleSets;

namespace Sluice.Core.Tests.RuleSets.Mrs;

/// <summary>
/// .mrs files for the tests: made by mrs_encode.py (an encoder written from mihomo's source, compressing with Debian's
/// python3-zstandard), or a hand-made body in a zstd frame of one raw (stored) block, whose bytes can be checked by eye.
/// </summary>
internal static class MrsFiles
{
    public static string EncoderPath => Path.Combine(AppContext.BaseDirectory, "RuleSets", "Mrs", "mrs_encode.py");

    /// <summary>mihomo's converter output for these rules of that behavior ("domain" or "ipcidr").</summary>
    public static byte[] Encode(string behavior, IEnumerable<string> rules) =>
        Run(JsonSerializer.Serialize(new Dictionary<string, object> { ["behavior"] = behavior, ["rules"] = rules.ToArray() }));

    /// <summary>A zstd stream of <paramref name="zeros"/> zero bytes with a 2^<paramref name="windowLog"/> window.</summary>
    public static byte[] Zeros(long zeros, int windowLog) =>
        Run(JsonSerializer.Serialize(new Dictionary<string, object> { ["zeros"] = zeros, ["window_log"] = windowLog }));

    /// <summary>
    /// A zstd frame (RFC 8878 §3.1.1) holding <paramref name="body"/> as it is: magic 28 B5 2F FD; frame header
    /// descriptor A0 (single segment, 4-byte content size, no checksum, no dictionary); the content size, 4 bytes
    /// little-endian; one block: a 3-byte little-endian header (bit 0 last block, bits 1–2 type 0 = raw, bits 3– size)
    /// and the bytes.
    /// </summary>
    public static byte[] RawFrame(ReadOnlySpan<byte> body)
    {
        var frame = new byte[4 + 1 + 4 + 3 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, 0xFD2FB528);
        frame[4] = 0xA0;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(5), (uint)body.Length);
        uint block = 1u | ((uint)body.Length << 3);
        (frame[9], frame[10], frame[11]) = ((byte)block, (byte)(block >> 8), (byte)(block >> 16));
        body.CopyTo(frame.AsSpan(12));
        return frame;
    }

    /// <summary>Whether the set (compiled as a route rule uses it) matches the name or address.</summary>
    public static bool Matches(RuleSetContent content, string target) => RuleSetQuery.FirstMatch(content, target) >= 0;

    private static byte[] Run(string spec)
    {
        string output = Path.Combine(Path.GetTempPath(), $"sluice-mrs-{Guid.NewGuid():N}.mrs");
        try
        {
            var info = new ProcessStartInfo("/usr/bin/python3", [EncoderPath, output])
            {
                RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var process = Process.Start(info)!;
            process.StandardInput.Write(spec);
            process.StandardInput.Close();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, "mrs_encode.py failed (is python3-zstandard installed?): " + error);
            return File.ReadAllBytes(output);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
