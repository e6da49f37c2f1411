using System.Buffers.Binary;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// Writes TLS's big-endian fields and length-prefixed vectors into a growing buffer. A vector is opened with
/// <see cref="OpenVector"/> and its length filled in by <see cref="CloseVector"/> once its body is written.
/// Used for handshake messages (a few per connection), not per record.
/// </summary>
internal sealed class TlsWriter
{
    private byte[] _buffer = new byte[512];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Length);

    public Span<byte> WrittenMutable => _buffer.AsSpan(0, Length);

    public void U8(int value) => Reserve(1)[0] = (byte)value;

    public void U16(int value) => BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), (ushort)value);

    public void Bytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));

    /// <summary>Starts a vector with a length prefix of <paramref name="width"/> bytes (1, 2 or 3); returns its mark.</summary>
    public int OpenVector(int width)
    {
        Reserve(width).Clear();
        return (Length << 2) | width;
    }

    public void CloseVector(int mark)
    {
        int width = mark & 3, bodyStart = mark >> 2, length = Length - bodyStart;
        var prefix = _buffer.AsSpan(bodyStart - width, width);
        if (length >= 1 << (8 * width)) throw new InvalidOperationException($"TLS vector of {length} bytes does not fit a {width}-byte length");
        for (int i = 0; i < width; i++) prefix[width - 1 - i] = (byte)(length >> (8 * i));
    }

    public Span<byte> Reserve(int count)
    {
        if (Length + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
        var span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }
}
