using System.Buffers.Binary;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// Reads TLS's big-endian fields and length-prefixed vectors from untrusted bytes. Every read is bounds
/// checked; a short or overlong field throws <see cref="TlsException"/> (decode_error) naming <c>what</c>.
/// </summary>
internal ref struct TlsReader(ReadOnlySpan<byte> data, string what)
{
    private ReadOnlySpan<byte> _rest = data;

    public readonly int Remaining => _rest.Length;

    public readonly bool IsEmpty => _rest.IsEmpty;

    public byte U8()
    {
        if (_rest.Length < 1) throw TlsException.Decode(what);
        byte value = _rest[0];
        _rest = _rest[1..];
        return value;
    }

    public ushort U16()
    {
        if (_rest.Length < 2) throw TlsException.Decode(what);
        ushort value = BinaryPrimitives.ReadUInt16BigEndian(_rest);
        _rest = _rest[2..];
        return value;
    }

    public int U24()
    {
        if (_rest.Length < 3) throw TlsException.Decode(what);
        int value = (_rest[0] << 16) | (_rest[1] << 8) | _rest[2];
        _rest = _rest[3..];
        return value;
    }

    public ReadOnlySpan<byte> Bytes(int count)
    {
        if (count < 0 || _rest.Length < count) throw TlsException.Decode(what);
        var value = _rest[..count];
        _rest = _rest[count..];
        return value;
    }

    /// <summary>A vector with a 1-, 2- or 3-byte length prefix.</summary>
    public ReadOnlySpan<byte> Vector(int width) => Bytes(width switch { 1 => U8(), 2 => U16(), _ => U24() });

    public readonly void ExpectEnd()
    {
        if (!_rest.IsEmpty) throw TlsException.Decode(what);
    }
}
