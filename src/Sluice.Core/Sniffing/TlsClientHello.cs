using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Sluice.Core.Sniffing;

/// <summary>
/// The server_name of a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066 §3). The handshake message may span
/// several TLS records (large post-quantum key shares do); fragments are joined before parsing.
/// </summary>
internal static class TlsClientHello
{
    private const byte HandshakeRecord = 22;
    private const byte ClientHello = 1;
    private const ushort ServerNameExtension = 0;
    private const int RecordHeader = 5;

    /// <summary>RFC 8446 §5.1: a record holds at most 2^14 bytes of plaintext.</summary>
    private const int MaxRecord = 1 << 14;

    /// <summary>A ClientHello bigger than this is not worth waiting for.</summary>
    private const int MaxHello = 64 * 1024;

    public static SniffResult Sniff(ReadOnlySpan<byte> data)
    {
        // Record header: type(1) version(2: 3.x) length(2).
        if (data[0] != HandshakeRecord) return SniffResult.NotMatched;
        if (data.Length >= 2 && data[1] != 3) return SniffResult.NotMatched;
        if (data.Length < RecordHeader + 4) return SniffResult.NeedMore;
        int firstLength = BinaryPrimitives.ReadUInt16BigEndian(data[3..]);
        if (firstLength is 0 or > MaxRecord) return SniffResult.NotMatched;

        var body = data[RecordHeader..];
        if (body[0] != ClientHello) return SniffResult.NotMatched;
        int helloLength = (body[1] << 16) | (body[2] << 8) | body[3];
        if (helloLength is < 38 or > MaxHello) return SniffResult.NotMatched;
        int needed = 4 + helloLength;

        if (firstLength >= needed)
        {
            return body.Length < needed ? SniffResult.NeedMore : Parse(body[4..needed]);
        }

        // The handshake continues in following records: join their payloads.
        byte[] joined = ArrayPool<byte>.Shared.Rent(needed);
        try
        {
            int have = 0, offset = 0;
            while (have < needed)
            {
                if (data.Length - offset < RecordHeader) return SniffResult.NeedMore;
                if (data[offset] != HandshakeRecord || data[offset + 1] != 3) return SniffResult.NotMatched;
                int length = BinaryPrimitives.ReadUInt16BigEndian(data[(offset + 3)..]);
                if (length is 0 or > MaxRecord) return SniffResult.NotMatched;
                if (data.Length - offset - RecordHeader < length) return SniffResult.NeedMore;
                int take = Math.Min(length, needed - have);
                data.Slice(offset + RecordHeader, take).CopyTo(joined.AsSpan(have));
                have += take;
                offset += RecordHeader + length;
            }
            return Parse(joined.AsSpan(4, helloLength));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(joined);
        }
    }

    /// <summary>Parses the ClientHello body (after the 4-byte handshake header); QUIC's CRYPTO stream carries the same.</summary>
    internal static SniffResult ParseHello(ReadOnlySpan<byte> hello) => Parse(hello);

    private static SniffResult Parse(ReadOnlySpan<byte> hello)
    {
        var malformed = SniffResult.NotMatched;
        var r = new SpanReader(hello);
        if (!r.Skip(2 + 32)) return malformed;                                  // legacy_version, random
        if (!r.ReadU8(out int sessionId) || !r.Skip(sessionId)) return malformed;
        if (!r.ReadU16(out int suites) || suites % 2 != 0 || !r.Skip(suites)) return malformed;
        if (!r.ReadU8(out int compression) || !r.Skip(compression)) return malformed;
        if (r.Remaining == 0) return new SniffResult(SniffStatus.Found, "tls", null); // no extensions (TLS 1.0 era)
        if (!r.ReadU16(out int extensionsLength) || !r.Slice(extensionsLength, out var extensions)) return malformed;

        var e = new SpanReader(extensions);
        while (e.Remaining > 0)
        {
            if (!e.ReadU16(out int type) || !e.ReadU16(out int length) || !e.Slice(length, out var ext)) return malformed;
            if (type != ServerNameExtension) continue;
            var s = new SpanReader(ext);
            if (!s.ReadU16(out int listLength) || !s.Slice(listLength, out var list)) return malformed;
            var names = new SpanReader(list);
            while (names.Remaining > 0)
            {
                if (!names.ReadU8(out int nameType) || !names.ReadU16(out int nameLength) || !names.Slice(nameLength, out var name))
                    return malformed;
                if (nameType == 0) // host_name
                    return new SniffResult(SniffStatus.Found, "tls", HostName.FromAscii(name));
            }
        }
        return new SniffResult(SniffStatus.Found, "tls", null);
    }
}

/// <summary>Big-endian reads over a span that fail instead of throwing when the input is short.</summary>
internal ref struct SpanReader(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _data = data;

    public readonly int Remaining => _data.Length;

    public bool Skip(int n)
    {
        if (n > _data.Length) return false;
        _data = _data[n..];
        return true;
    }

    public bool ReadU8(out int value)
    {
        value = 0;
        if (_data.Length < 1) return false;
        value = _data[0];
        _data = _data[1..];
        return true;
    }

    public bool ReadU16(out int value)
    {
        value = 0;
        if (_data.Length < 2) return false;
        value = BinaryPrimitives.ReadUInt16BigEndian(_data);
        _data = _data[2..];
        return true;
    }

    public bool Slice(int n, out ReadOnlySpan<byte> slice)
    {
        slice = default;
        if (n > _data.Length) return false;
        slice = _data[..n];
        _data = _data[n..];
        return true;
    }
}

/// <summary>Validates a host name from the wire; null when it is not a plausible DNS name or address.</summary>
internal static class HostName
{
    public static string? FromAscii(ReadOnlySpan<byte> name)
    {
        name = name.TrimEnd((byte)'.');
        if (name.IsEmpty || name.Length > 253) return null;
        foreach (byte b in name)
        {
            bool ok = b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9')
                or (byte)'-' or (byte)'.' or (byte)'_' or (byte)':';
            if (!ok) return null;
        }
        return Encoding.ASCII.GetString(name).ToLowerInvariant();
    }
}
