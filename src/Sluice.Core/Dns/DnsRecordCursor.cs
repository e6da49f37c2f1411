using System.Buffers.Binary;

namespace Sluice.Core.Dns;

/// <summary>One resource record located in a message: offsets only, nothing copied.</summary>
/// <param name="Section">1 answer, 2 authority, 3 additional.</param>
internal readonly record struct DnsRecordRef(int Section, int NameOffset, ushort Type, ushort Class, int TtlOffset, uint Ttl, int DataOffset, int DataLength)
{
    public int End => DataOffset + DataLength;
}

/// <summary>
/// Walks the answer, authority and additional sections of a message whose question section ends at
/// a known offset. Every record is bounds-checked (owner name by <see cref="DnsName"/>, fixed part,
/// RDATA length); <see cref="Malformed"/> tells a clean end from a broken message.
/// </summary>
internal ref struct DnsRecordCursor
{
    private readonly ReadOnlySpan<byte> _message;
    private int _position;
    private int _section;
    private int _left;

    public DnsRecordCursor(ReadOnlySpan<byte> message, int questionEnd)
    {
        _message = message;
        _position = questionEnd;
        _section = 0;
        _left = 0;
    }

    public bool Malformed { get; private set; }

    /// <summary>Where the last record read ended: the offset to cut a message after a section.</summary>
    public int Position => _position;

    public bool TryNext(out DnsRecordRef record)
    {
        record = default;
        while (_left == 0)
        {
            if (++_section > 3) return false;
            _left = DnsWire.Count(_message, _section);
        }
        if (!DnsName.TrySkip(_message, _position, out int fixedAt) || fixedAt + DnsWire.RecordFixed > _message.Length)
        {
            Malformed = true;
            return false;
        }
        var m = _message[fixedAt..];
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(m);
        ushort cls = BinaryPrimitives.ReadUInt16BigEndian(m[2..]);
        uint ttl = BinaryPrimitives.ReadUInt32BigEndian(m[4..]);
        int dataLength = BinaryPrimitives.ReadUInt16BigEndian(m[8..]);
        int dataOffset = fixedAt + DnsWire.RecordFixed;
        if (dataOffset + dataLength > _message.Length)
        {
            Malformed = true;
            return false;
        }
        record = new DnsRecordRef(_section, _position, type, cls, fixedAt + 4, ttl, dataOffset, dataLength);
        _position = dataOffset + dataLength;
        _left--;
        return true;
    }
}

/// <summary>What to do with a client's message before any rule runs.</summary>
internal enum QueryVerdict
{
    Ok,
    /// <summary>Too short to carry an ID, or a response (QR set): answering could loop.</summary>
    Drop,
    FormErr,
    NotImp,
}

/// <summary>A client's query, parsed once: its header fields and where its question ends.</summary>
internal readonly record struct DnsQuery(ushort Id, ushort Flags, int QuestionEnd, ushort Type, ushort Class, bool HasOpt, ushort UdpSize)
{
    /// <summary>
    /// Parses a query: one question (RFC 1035 says QDCOUNT may be more; no server implements it),
    /// its name uncompressed (there is nothing before it to point at), the other sections well formed,
    /// at most one OPT (RFC 6891 6.1.1). <paramref name="nameWire"/> receives the lowercased name.
    /// </summary>
    public static QueryVerdict Parse(ReadOnlySpan<byte> m, Span<byte> nameWire, out DnsQuery query, out int nameLength)
    {
        query = default;
        nameLength = 0;
        if (m.Length < DnsWire.HeaderLength) return QueryVerdict.Drop;
        ushort id = DnsWire.Id(m);
        ushort flags = DnsWire.Flags(m);
        query = new DnsQuery(id, flags, DnsWire.HeaderLength, 0, 0, false, 512);
        if ((flags & DnsWire.FlagQr) != 0) return QueryVerdict.Drop;
        if ((flags & DnsWire.OpcodeMask) != 0) return QueryVerdict.NotImp;
        if (DnsWire.Count(m, 0) != 1) return QueryVerdict.FormErr;
        if (!DnsName.TryRead(m, DnsWire.HeaderLength, nameWire, out nameLength, out int next)
            || next != DnsWire.HeaderLength + nameLength
            || next + DnsWire.QuestionFixed > m.Length)
            return QueryVerdict.FormErr;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(m[next..]);
        ushort cls = BinaryPrimitives.ReadUInt16BigEndian(m[(next + 2)..]);
        int questionEnd = next + DnsWire.QuestionFixed;
        query = query with { QuestionEnd = questionEnd, Type = type, Class = cls };
        if (type is DnsType.OPT) return QueryVerdict.FormErr;

        var cursor = new DnsRecordCursor(m, questionEnd);
        bool hasOpt = false;
        ushort udpSize = 512;
        while (cursor.TryNext(out var r))
        {
            if (r.Type != DnsType.OPT) continue;
            if (hasOpt || r.Section != 3 || m[r.NameOffset] != 0) return QueryVerdict.FormErr;
            hasOpt = true;
            udpSize = Math.Max((ushort)512, r.Class);
        }
        if (cursor.Malformed) return QueryVerdict.FormErr;
        query = query with { HasOpt = hasOpt, UdpSize = udpSize };
        // Zone transfers and non-Internet classes are not a stub resolver's business.
        if (cls != DnsWire.ClassIn || type is 251 or 252) return QueryVerdict.NotImp;
        return QueryVerdict.Ok;
    }
}
