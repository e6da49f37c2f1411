using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Sluice.Core.Dns;

/// <summary>One resource record for people: owner name with its trailing dot, type, TTL, and the data as zone files write it.</summary>
public sealed record DnsRecordView(string Name, ushort Type, uint Ttl, string Data);

/// <summary>A decoded answer: the rcode, the question, the header bits and the three record sections (OPT left out).</summary>
public sealed record DnsLookupView(
    int Rcode, string QuestionName, ushort QuestionType, ushort QuestionClass,
    bool Truncated, bool RecursionDesired, bool RecursionAvailable, bool AuthenticatedData, bool CheckingDisabled,
    IReadOnlyList<DnsRecordView> Answer, IReadOnlyList<DnsRecordView> Authority, IReadOnlyList<DnsRecordView> Additional);

/// <summary>
/// A query asked of the engine's DNS server as an app's would be (its rules, cache and fakeip servers apply; no
/// inbound or process, so rules naming those do not match), the answer decoded: the Clash API's /dns/query, which
/// the dashboards' DNS tool calls.
/// </summary>
public static class DnsLookup
{
    /// <summary>The querier the API's lookups carry: an inbound no config names.</summary>
    public const string Inbound = "clash-api";

    /// <summary>Whether <paramref name="name"/> can be asked: labels of 1–63 printable ASCII characters, 255 bytes in all.</summary>
    public static bool IsDomainName(string name) => DnsName.Encode(name) is not null;

    /// <summary>Asks <paramref name="server"/>; throws <see cref="DnsLookupException"/> when the name is not a domain name or nothing answers.</summary>
    public static async ValueTask<DnsLookupView> QueryAsync(DnsServer server, string name, ushort type, CancellationToken ct)
    {
        byte[] query = Encode(name, type, (ushort)Random.Shared.Next(0, 65536))
            ?? throw new DnsLookupException($"\"{name}\" is not a domain name");
        var response = new byte[DnsWire.MaxMessage];
        int length = await server.HandleAsync(query, response, new DnsQuerier(Inbound, static () => null), maxUdpSize: 0, ct);
        if (length == 0) throw new DnsLookupException($"no answer for {name}");
        return Decode(response.AsSpan(0, length));
    }

    /// <summary>A recursive query for <paramref name="name"/> (with or without its trailing dot); null when it is not a domain name.</summary>
    internal static byte[]? Encode(string name, ushort type, ushort id)
    {
        if (DnsName.Encode(name) is not { } wire) return null;
        var query = new byte[DnsWire.HeaderLength + wire.Length + DnsWire.QuestionFixed];
        DnsWire.WriteHeader(query, id, DnsWire.FlagRd, 1, 0, 0, 0);
        wire.CopyTo(query.AsSpan(DnsWire.HeaderLength));
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(DnsWire.HeaderLength + wire.Length), type);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(DnsWire.HeaderLength + wire.Length + 2), DnsWire.ClassIn);
        return query;
    }

    /// <summary>Decodes a response of one question; throws <see cref="DnsLookupException"/> for a malformed one.</summary>
    internal static DnsLookupView Decode(ReadOnlySpan<byte> m)
    {
        if (m.Length < DnsWire.HeaderLength || DnsWire.Count(m, 0) != 1) throw Malformed();
        Span<byte> wire = stackalloc byte[DnsName.MaxWireLength];
        if (!DnsName.TryRead(m, DnsWire.HeaderLength, wire, out int wireLength, out int fixedAt) || fixedAt + DnsWire.QuestionFixed > m.Length) throw Malformed();
        string questionName = Fqdn(DnsName.ToText(wire[..wireLength]));
        ushort questionType = BinaryPrimitives.ReadUInt16BigEndian(m[fixedAt..]);
        ushort questionClass = BinaryPrimitives.ReadUInt16BigEndian(m[(fixedAt + 2)..]);
        var sections = new[] { new List<DnsRecordView>(), new List<DnsRecordView>(), new List<DnsRecordView>() };
        var cursor = new DnsRecordCursor(m, fixedAt + DnsWire.QuestionFixed);
        while (cursor.TryNext(out var record))
        {
            if (record.Type == DnsType.OPT) continue;
            if (!DnsName.TryRead(m, record.NameOffset, wire, out wireLength, out _)) throw Malformed();
            sections[record.Section - 1].Add(new DnsRecordView(Fqdn(DnsName.ToText(wire[..wireLength])), record.Type, record.Ttl, DataText(m, record)));
        }
        if (cursor.Malformed) throw Malformed();
        ushort flags = DnsWire.Flags(m);
        return new DnsLookupView(flags & DnsWire.RcodeMask, questionName, questionType, questionClass,
            (flags & DnsWire.FlagTc) != 0, (flags & DnsWire.FlagRd) != 0, (flags & DnsWire.FlagRa) != 0, (flags & DnsWire.FlagAd) != 0, (flags & DnsWire.FlagCd) != 0,
            sections[0], sections[1], sections[2]);
    }

    /// <summary>
    /// The record's data in presentation form: addresses, names with their trailing dot, TXT strings quoted, MX, SRV and
    /// SOA fields in order; any other type (or data that does not parse as its type) as RFC 3597's <c>\# LENGTH HEX</c>.
    /// </summary>
    internal static string DataText(ReadOnlySpan<byte> m, DnsRecordRef r)
    {
        var data = m.Slice(r.DataOffset, r.DataLength);
        return r.Type switch
        {
            DnsType.A when data.Length == 4 => new IPAddress(data).ToString(),
            DnsType.AAAA when data.Length == 16 => new IPAddress(data).ToString(),
            DnsType.CNAME or DnsType.NS or DnsType.PTR => Name(m, r.DataOffset, r.End) ?? Unknown(data),
            DnsType.MX when data.Length > 2 => Name(m, r.DataOffset + 2, r.End) is { } exchange
                ? $"{BinaryPrimitives.ReadUInt16BigEndian(data)} {exchange}" : Unknown(data),
            DnsType.SRV when data.Length > 6 => Name(m, r.DataOffset + 6, r.End) is { } target
                ? $"{BinaryPrimitives.ReadUInt16BigEndian(data)} {BinaryPrimitives.ReadUInt16BigEndian(data[2..])} {BinaryPrimitives.ReadUInt16BigEndian(data[4..])} {target}" : Unknown(data),
            DnsType.SOA => Soa(m, r) ?? Unknown(data),
            DnsType.TXT => Txt(data) ?? Unknown(data),
            _ => Unknown(data),
        };
    }

    private static string? Soa(ReadOnlySpan<byte> m, DnsRecordRef r)
    {
        Span<byte> wire = stackalloc byte[DnsName.MaxWireLength];
        if (!DnsName.TryRead(m, r.DataOffset, wire, out int length, out int next) || next > r.End) return null;
        string mname = Fqdn(DnsName.ToText(wire[..length]));
        if (!DnsName.TryRead(m, next, wire, out length, out next) || next + 20 != r.End) return null;
        string rname = Fqdn(DnsName.ToText(wire[..length]));
        var n = m[next..];
        return $"{mname} {rname} {BinaryPrimitives.ReadUInt32BigEndian(n)} {BinaryPrimitives.ReadUInt32BigEndian(n[4..])} {BinaryPrimitives.ReadUInt32BigEndian(n[8..])} {BinaryPrimitives.ReadUInt32BigEndian(n[12..])} {BinaryPrimitives.ReadUInt32BigEndian(n[16..])}";
    }

    /// <summary>The name at <paramref name="offset"/>, which must end the data at <paramref name="end"/>.</summary>
    private static string? Name(ReadOnlySpan<byte> m, int offset, int end)
    {
        Span<byte> wire = stackalloc byte[DnsName.MaxWireLength];
        if (!DnsName.TryRead(m, offset, wire, out int length, out int next) || next != end) return null;
        return Fqdn(DnsName.ToText(wire[..length]));
    }

    private static string? Txt(ReadOnlySpan<byte> data)
    {
        var text = new StringBuilder();
        for (int i = 0; i < data.Length;)
        {
            int length = data[i++];
            if (i + length > data.Length) return null;
            if (text.Length > 0) text.Append(' ');
            text.Append('"');
            foreach (byte b in data.Slice(i, length))
            {
                if (b is (byte)'"' or (byte)'\\') text.Append('\\').Append((char)b);
                else if (b is >= 0x20 and < 0x7F) text.Append((char)b);
                else text.Append('\\').Append((b / 100).ToString()).Append((b / 10 % 10).ToString()).Append((b % 10).ToString());
            }
            text.Append('"');
            i += length;
        }
        return text.ToString();
    }

    private static string Unknown(ReadOnlySpan<byte> data) =>
        data.Length == 0 ? "\\# 0" : $"\\# {data.Length} {Convert.ToHexStringLower(data)}";

    private static string Fqdn(string name) => name + ".";

    private static DnsLookupException Malformed() => new("the DNS server's answer is malformed");
}
