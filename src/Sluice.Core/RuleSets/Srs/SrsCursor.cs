using System.Buffers.Binary;
using System.Text;

namespace Sluice.Core.RuleSets.Srs;

/// <summary>
/// Bounds-checked reads over an inflated .srs body. Every count is checked against the bytes left
/// before anything is allocated, so a hostile file cannot ask for more memory than it is long.
/// </summary>
internal ref struct SrsCursor(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _offset;

    public readonly int Offset => _offset;

    public readonly int Remaining => _data.Length - _offset;

    public byte Byte()
    {
        if (_offset >= _data.Length) throw Truncated("a byte");
        return _data[_offset++];
    }

    /// <summary>Go's binary.ReadUvarint: little-endian base-128, at most 10 bytes.</summary>
    public ulong Uvarint()
    {
        ulong value = 0;
        for (int shift = 0, i = 0; i < 10; i++, shift += 7)
        {
            byte b = Byte();
            if (b < 0x80)
            {
                if (i == 9 && b > 1) throw new RuleSetFormatException($"varint overflows 64 bits at byte {_offset - 1}");
                return value | ((ulong)b << shift);
            }
            value |= (ulong)(b & 0x7f) << shift;
        }
        throw new RuleSetFormatException($"varint longer than 10 bytes at byte {_offset}");
    }

    /// <summary>A count of items each at least <paramref name="minItemBytes"/> long: never more than the bytes left allow.</summary>
    public int Count(int minItemBytes, string what)
    {
        ulong n = Uvarint();
        if (n > (ulong)Remaining / (ulong)Math.Max(minItemBytes, 1))
            throw new RuleSetFormatException($"{what}: count {n} is more than the {Remaining} bytes left can hold");
        return (int)n;
    }

    public ReadOnlySpan<byte> Bytes(int length)
    {
        if (length < 0 || length > Remaining) throw Truncated($"{length} bytes");
        var slice = _data.Slice(_offset, length);
        _offset += length;
        return slice;
    }

    public ushort UInt16() => BinaryPrimitives.ReadUInt16BigEndian(Bytes(2));

    public ulong UInt64() => BinaryPrimitives.ReadUInt64BigEndian(Bytes(8));

    public string String(string what)
    {
        int length = Count(1, what);
        try
        {
            return new UTF8Encoding(false, true).GetString(Bytes(length));
        }
        catch (DecoderFallbackException)
        {
            throw new RuleSetFormatException($"{what}: not UTF-8");
        }
    }

    public List<string> Strings(string what)
    {
        int n = Count(1, what);
        var list = new List<string>(n);
        for (int i = 0; i < n; i++) list.Add(String(what));
        return list;
    }

    public List<ushort> UInt16s(string what)
    {
        int n = Count(2, what);
        var list = new List<ushort>(n);
        for (int i = 0; i < n; i++) list.Add(UInt16());
        return list;
    }

    public ulong[] UInt64s(string what)
    {
        int n = Count(8, what);
        var words = new ulong[n];
        for (int i = 0; i < n; i++) words[i] = UInt64();
        return words;
    }

    private readonly RuleSetFormatException Truncated(string wanted) =>
        new($"the body ends at byte {_offset} where {wanted} should follow (truncated)");
}

/// <summary>The writing side: Go's varbin/binary.BigEndian encodings into a growable buffer.</summary>
internal sealed class SrsBuffer
{
    private readonly MemoryStream _stream = new();

    public void Byte(byte value) => _stream.WriteByte(value);

    public void Uvarint(ulong value)
    {
        while (value >= 0x80)
        {
            _stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _stream.WriteByte((byte)value);
    }

    public void Bytes(ReadOnlySpan<byte> bytes) => _stream.Write(bytes);

    public void UInt16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, value);
        _stream.Write(b);
    }

    public void UInt64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        _stream.Write(b);
    }

    public void String(string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        Uvarint((ulong)bytes.Length);
        _stream.Write(bytes);
    }

    public byte[] ToArray() => _stream.ToArray();
}
