using Sluice.Core.Outbounds.Transport;
using Sluice.Core.Outbounds.Trojan;
using Sluice.Core.Outbounds.Vless;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// Fuzz bodies for the decoders of bytes a Trojan/VLESS/WebSocket server sends (they live here so unit
/// tests can run them bounded). Each must never throw anything but the decoder's documented IOException,
/// and never read past its input or return a span outside it.
/// </summary>
public static class ProxyFrameFuzzTargets
{
    /// <summary>The VLESS answer header, fed in pieces whose sizes come from the first byte.</summary>
    public static void VlessResponse(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        int piece = data[0] % 7 + 1;
        var header = new VlessResponseHeader();
        var rest = data[1..];
        try
        {
            while (!rest.IsEmpty && !header.Done)
            {
                var chunk = rest[..Math.Min(piece, rest.Length)];
                int used = header.Consume(chunk);
                if (used < 0 || used > chunk.Length) throw new InvalidOperationException($"consumed {used} of {chunk.Length}");
                if (used < chunk.Length && !header.Done) throw new InvalidOperationException("stopped early without being done");
                rest = rest[used..];
            }
        }
        catch (IOException)
        {
            // A version other than 0: refused, as documented.
        }
    }

    public static void TrojanUdpFrames(ReadOnlySpan<byte> data) => Frames(data, TrojanUdpFraming.TryReadFrame);

    public static void XudpFrames(ReadOnlySpan<byte> data) => Frames(data, XudpFraming.TryReadFrame);

    /// <summary>WebSocket frame headers, one after another, skipping each payload.</summary>
    public static void WebSocketFrames(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int used = WebSocketFrame.TryReadHeader(data, out var header);
            if (used <= 0) return;
            if (used > data.Length || header.PayloadLength < 0) throw new InvalidOperationException("header outside its input");
            if (header.Opcode >= WebSocketFrame.Close && header.PayloadLength > WebSocketFrame.MaxControlPayload)
                throw new InvalidOperationException("a control frame over 125 bytes was accepted");
            long next = used + header.PayloadLength;
            if (next > data.Length) return;
            data = data[(int)next..];
        }
    }

    private delegate int FrameReader(ReadOnlySpan<byte> data, out int offset, out int length, out bool skip);

    private static void Frames(ReadOnlySpan<byte> data, FrameReader read)
    {
        while (!data.IsEmpty)
        {
            int used = read(data, out int offset, out int length, out _);
            if (used <= 0) return;
            if (used > data.Length || offset < 0 || length < 0 || offset + length > used)
                throw new InvalidOperationException($"frame {used} with payload {offset}+{length} outside its input of {data.Length}");
            data = data[used..];
        }
    }
}
