using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>
/// Writes answers to a client: header, the client's own question bytes (its letter case kept, for
/// 0x20-randomising resolvers), records, and an OPT record when the query had one (RFC 6891 7).
/// A message longer than the limit (the UDP size) is replaced by header + question with TC set,
/// and the client retries over TCP (RFC 1035 4.2.1, RFC 7766).
/// </summary>
internal static class DnsResponse
{
    public static ushort Flags(in DnsQuery query, DnsRcode rcode) =>
        (ushort)(DnsWire.FlagQr | DnsWire.FlagRa | (query.Flags & (DnsWire.FlagRd | DnsWire.FlagCd)) | (ushort)rcode);

    /// <summary>No records: errors, REFUSED, NXDOMAIN, and NODATA (NOERROR with an empty answer).</summary>
    public static int WriteEmpty(ReadOnlySpan<byte> query, in DnsQuery parsed, Span<byte> response, DnsRcode rcode, ushort extraFlags = 0)
    {
        int questionLength = parsed.QuestionEnd - DnsWire.HeaderLength;
        int total = parsed.QuestionEnd + (parsed.HasOpt ? DnsWire.OptLength : 0);
        if (response.Length < total) return 0;
        DnsWire.WriteHeader(response, parsed.Id, (ushort)(Flags(parsed, rcode) | extraFlags), questionLength > 0 ? (ushort)1 : (ushort)0, 0, 0, parsed.HasOpt ? (ushort)1 : (ushort)0);
        query[DnsWire.HeaderLength..parsed.QuestionEnd].CopyTo(response[DnsWire.HeaderLength..]);
        int n = parsed.QuestionEnd;
        if (parsed.HasOpt) n += DnsWire.WriteOpt(response[n..]);
        return n;
    }

    public static int WriteTruncated(ReadOnlySpan<byte> query, in DnsQuery parsed, Span<byte> response, DnsRcode rcode) =>
        WriteEmpty(query, parsed, response, rcode, DnsWire.FlagTc);

    /// <summary>A cached or fresh upstream answer, TTLs counted down by <paramref name="elapsedSeconds"/> (or all set to a rule's rewrite_ttl).</summary>
    public static int WriteAnswer(ReadOnlySpan<byte> query, in DnsQuery parsed, DnsAnswer answer, uint elapsedSeconds, Span<byte> response, int limit,
        uint? rewriteTtl = null)
    {
        int total = answer.Message.Length + (parsed.HasOpt ? DnsWire.OptLength : 0);
        if (total > limit) return WriteTruncated(query, parsed, response, answer.Rcode);
        answer.CopyTo(response, elapsedSeconds, rewriteTtl);
        // Same name, same length (both uncompressed); the client's bytes keep its letter case.
        query[DnsWire.HeaderLength..parsed.QuestionEnd].CopyTo(response[DnsWire.HeaderLength..]);
        DnsWire.SetId(response, parsed.Id);
        DnsWire.SetFlags(response, Flags(parsed, answer.Rcode));
        int n = answer.Message.Length;
        if (parsed.HasOpt)
        {
            DnsWire.SetCount(response, 3, 1);
            n += DnsWire.WriteOpt(response[n..]);
        }
        return n;
    }

    /// <summary>Pre-encoded records (predefined answers): <paramref name="records"/> holds an, ns, ar in order.</summary>
    public static int WriteRecords(ReadOnlySpan<byte> query, in DnsQuery parsed, Span<byte> response, int limit, DnsRcode rcode,
        ushort an, ushort ns, ushort ar, ReadOnlySpan<byte> records)
    {
        int total = parsed.QuestionEnd + records.Length + (parsed.HasOpt ? DnsWire.OptLength : 0);
        if (total > limit) return WriteTruncated(query, parsed, response, rcode);
        WriteEmpty(query, parsed, response, rcode);
        DnsWire.SetCount(response, 1, an);
        DnsWire.SetCount(response, 2, ns);
        DnsWire.SetCount(response, 3, (ushort)(ar + (parsed.HasOpt ? 1 : 0)));
        records.CopyTo(response[parsed.QuestionEnd..]);
        int n = parsed.QuestionEnd + records.Length;
        if (parsed.HasOpt) n += DnsWire.WriteOpt(response[n..]);
        return n;
    }

    /// <summary>A/AAAA records for the question name (fakeip, hosts); addresses of the other family are skipped.</summary>
    public static int WriteAddresses(ReadOnlySpan<byte> query, in DnsQuery parsed, Span<byte> response, int limit, ReadOnlySpan<NetAddress> addresses, uint ttl)
    {
        bool v4 = parsed.Type == DnsType.A;
        int count = 0;
        foreach (var a in addresses)
            if (a.IsV4 == v4) count++;
        int recordLength = 12 + (v4 ? 4 : 16);
        int total = parsed.QuestionEnd + count * recordLength + (parsed.HasOpt ? DnsWire.OptLength : 0);
        if (total > limit) return WriteTruncated(query, parsed, response, DnsRcode.NoError);
        WriteEmpty(query, parsed, response, DnsRcode.NoError);
        DnsWire.SetCount(response, 1, (ushort)count);
        int n = parsed.QuestionEnd;
        Span<byte> rdata = stackalloc byte[16];
        foreach (var a in addresses)
        {
            if (a.IsV4 != v4) continue;
            int length = a.WriteTo(rdata);
            n += DnsWire.WriteRecordAtQuestion(response[n..], parsed.Type, ttl, rdata[..length]);
        }
        if (parsed.HasOpt) n += DnsWire.WriteOpt(response[n..]);
        return n;
    }
}
