using System.Security.Cryptography;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.Vision;
using Sluice.Core.Tests.Reality;
using Sluice.Fuzz.Targets;

namespace Sluice.Core.Tests.Tls;

/// <summary>Bounded runs of the TLS and Vision fuzz targets over mutated real messages: only TlsException may come out.</summary>
public sealed class TlsAndVisionFuzzTests
{
    [Fact]
    public void TlsDecoders_SurviveMutatedServerMessages()
    {
        var certificate = RealityServerHandshake.Certificate(RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(64));
        var serverHello = Message(w =>
        {
            w.U16(0x0303); w.Bytes(new byte[32]); w.U8(32); w.Bytes(new byte[32]); w.U16(0x1301); w.U8(0);
            var extensions = w.OpenVector(2);
            w.U16(0x002b); w.U16(2); w.U16(0x0304);
            w.U16(0x0033); w.U16(36); w.U16(0x001d); w.U16(32); w.Bytes(RandomNumberGenerator.GetBytes(32));
            w.CloseVector(extensions);
        });
        byte[][] seeds =
        [
            [0, 0x16, 0x03, 0x03, (byte)((serverHello.Length + 4) >> 8), (byte)(serverHello.Length + 4), 2, 0, (byte)(serverHello.Length >> 8), (byte)serverHello.Length, .. serverHello,
                0x14, 0x03, 0x03, 0, 1, 1, 0x17, 0x03, 0x03, 0, 20, .. new byte[20]],
            [0, 0x15, 0x03, 0x03, 0, 2, 2, 40],
            [1, .. serverHello],
            [2, .. Message(w => { var e = w.OpenVector(2); w.U16(0x10); w.U16(5); w.U16(3); w.U8(2); w.Bytes("h2"u8); w.CloseVector(e); })],
            [3, .. Message(w => { w.U8(0); var l = w.OpenVector(3); var c = w.OpenVector(3); w.Bytes(certificate); w.CloseVector(c); w.U16(0); w.CloseVector(l); })],
            [4, .. certificate],
            [5, 8, 0, 0, 2, 0, 0, 4, 0, 0, 1, 9],
        ];
        MutationCampaign.RunBounded(TlsFuzzTarget.Run, seeds, rounds: 20_000, seed: 1301);
    }

    [Fact]
    public void VisionUnpadder_SurvivesMutatedFrames()
    {
        var userId = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var frames = new byte[4 * VisionFrames.MaxFrame];
        int used = VisionFrames.Write("\x16\x03\x03\0\x05\x02hello"u8, VisionFrames.CommandContinue, userId, true, frames);
        used += VisionFrames.Write([0x17, 3, 3, 0, 1, 9], VisionFrames.CommandDirect, [], false, frames.AsSpan(used));
        byte[][] seeds = [[1, .. frames.AsSpan(0, used)], [200, .. userId, 1, 0, 2, 0, 1, 7, 7, 0], []];
        MutationCampaign.RunBounded(VisionFuzzTarget.Run, seeds, rounds: 20_000, seed: 2);
    }

    [Fact]
    public void VisionUnpadder_ReturnsTheContent_OfFramesCutAtAnyPoint()
    {
        var userId = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var frames = new byte[4 * VisionFrames.MaxFrame];
        int used = VisionFrames.Write("first"u8, VisionFrames.CommandContinue, userId, true, frames);
        used += VisionFrames.Write("second"u8, VisionFrames.CommandDirect, [], false, frames.AsSpan(used));
        "raw"u8.CopyTo(frames.AsSpan(used));
        used += 3;
        for (int cut = 21; cut < used; cut += 97) // Xray's unpadder looks for the user id in a first read of 21 bytes or more
        {
            var unpadder = new VisionUnpadder(userId);
            var output = new byte[used];
            int written = unpadder.Unpad(frames.AsSpan(0, cut), output);
            written += unpadder.Unpad(frames.AsSpan(cut, used - cut), output.AsSpan(written));
            Assert.Equal("firstsecondraw", System.Text.Encoding.ASCII.GetString(output, 0, written));
            Assert.Equal(VisionFrames.CommandDirect, unpadder.Command);
            Assert.False(unpadder.WithinPadding);
        }
    }

    private static byte[] Message(Action<TlsWriter> body)
    {
        var writer = new TlsWriter();
        body(writer);
        return writer.Written.ToArray();
    }
}
