using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Vision;

/// <summary>
/// Vision's padding frames (Xray's xtls-rprx-vision): [user UUID, first frame of a direction only] command (1)
/// content length (u16 BE) padding length (u16 BE) content padding. Commands: 0 continue (more frames follow),
/// 1 end (plain bytes follow), 2 direct (raw bytes follow, outside the outer TLS). Frames hold at most
/// <see cref="MaxContent"/> bytes of content, as Xray's 8 KiB buffers less the 21-byte header do.
/// </summary>
internal static class VisionFrames
{
    public const byte CommandContinue = 0, CommandEnd = 1, CommandDirect = 2;
    public const int BufferSize = 8192;
    public const int HeaderLength = 5;
    public const int MaxContent = BufferSize - 21;
    public const int MaxFrame = 16 + HeaderLength + BufferSize;

    /// <summary>
    /// Writes one frame; returns its length. Long padding (the first frames of a TLS handshake) lifts a short
    /// frame to 900–1399 bytes; otherwise 0–255 bytes of padding, never past the 8 KiB frame.
    /// </summary>
    public static int Write(ReadOnlySpan<byte> content, byte command, ReadOnlySpan<byte> userId, bool longPadding, Span<byte> output)
    {
        if (content.Length > MaxContent) throw new ArgumentOutOfRangeException(nameof(content), "a Vision frame holds at most 8171 bytes");
        int padding = content.Length < 900 && longPadding
            ? RandomNumberGenerator.GetInt32(500) + 900 - content.Length
            : RandomNumberGenerator.GetInt32(256);
        padding = Math.Min(padding, BufferSize - 21 - content.Length);
        userId.CopyTo(output);
        var header = output[userId.Length..];
        header[0] = command;
        BinaryPrimitives.WriteUInt16BigEndian(header[1..], (ushort)content.Length);
        BinaryPrimitives.WriteUInt16BigEndian(header[3..], (ushort)padding);
        content.CopyTo(header[HeaderLength..]);
        header.Slice(HeaderLength + content.Length, padding).Clear();
        return userId.Length + HeaderLength + content.Length + padding;
    }

    /// <summary>True when <paramref name="data"/> is nothing but whole TLS application-data records (17 03 03 len body)*.</summary>
    public static bool IsWholeApplicationDataRecords(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return false;
        while (!data.IsEmpty)
        {
            if (data.Length < 5 || data[0] != 0x17 || data[1] != 0x03 || data[2] != 0x03) return false;
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[3..]);
            if (length == 0 || data.Length < 5 + length) return false;
            data = data[(5 + length)..];
        }
        return true;
    }
}

/// <summary>
/// Removes Vision padding from one direction's byte stream, frame by frame across reads, as Xray's
/// XtlsUnpadding does: in the initial state a read that does not start with the user UUID passes through as
/// is; after an end or direct frame the rest passes through and the unpadder is back in its initial state.
/// </summary>
internal sealed class VisionUnpadder(byte[] userId)
{
    private int _remainingHeader = -1, _remainingContent = -1, _remainingPadding = -1;
    private int _headerValue;

    /// <summary>The command of the frame last read: 0 continue, 1 end, 2 direct.</summary>
    public int Command { get; private set; }

    /// <summary>True while a frame is partly read or a continue frame promised more.</summary>
    public bool WithinPadding => _remainingContent > 0 || _remainingPadding > 0 || _remainingHeader > 0 || Command == VisionFrames.CommandContinue;

    /// <summary>Writes the content in <paramref name="input"/> to <paramref name="output"/> (at least input's length); returns its length.</summary>
    public int Unpad(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (_remainingHeader == -1 && _remainingContent == -1 && _remainingPadding == -1)
        {
            if (input.Length < 21 || !input[..16].SequenceEqual(userId))
            {
                input.CopyTo(output);
                return input.Length;
            }
            input = input[16..];
            _remainingHeader = VisionFrames.HeaderLength;
        }
        int written = 0;
        while (!input.IsEmpty)
        {
            if (_remainingHeader > 0)
            {
                byte value = input[0];
                input = input[1..];
                switch (_remainingHeader)
                {
                    case 5: Command = value; break;
                    case 4: _headerValue = value << 8; break;
                    case 3: _remainingContent = _headerValue | value; break;
                    case 2: _headerValue = value << 8; break;
                    case 1: _remainingPadding = _headerValue | value; break;
                }
                _remainingHeader--;
            }
            else if (_remainingContent > 0)
            {
                int count = Math.Min(_remainingContent, input.Length);
                input[..count].CopyTo(output[written..]);
                written += count;
                input = input[count..];
                _remainingContent -= count;
            }
            else
            {
                int count = Math.Min(_remainingPadding, input.Length);
                input = input[count..];
                _remainingPadding -= count;
            }
            if (_remainingHeader <= 0 && _remainingContent <= 0 && _remainingPadding <= 0)
            {
                if (Command == VisionFrames.CommandContinue)
                {
                    _remainingHeader = VisionFrames.HeaderLength;
                    continue;
                }
                _remainingHeader = _remainingContent = _remainingPadding = -1;
                input.CopyTo(output[written..]); // bytes after an end/direct frame are not padded
                return written + input.Length;
            }
        }
        return written;
    }
}
