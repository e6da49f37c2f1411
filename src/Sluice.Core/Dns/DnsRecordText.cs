using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;

namespace Sluice.Core.Dns;

/// <summary>
/// Zone-file text records for predefined answers, as sing-box writes them:
/// <c>name [ttl] [IN] type rdata</c>, e.g. <c>localhost. IN A 127.0.0.1</c>, <c>x. 60 IN TXT "hello"</c>.
/// Types: A, AAAA, CNAME, NS, PTR, TXT. The TTL defaults to 3600 (miekg/dns's default, which sing-box uses).
/// </summary>
internal static class DnsRecordText
{
    public const uint DefaultTtl = 3600;

    /// <summary>The record in wire form with an uncompressed owner name, or an error for people.</summary>
    public static byte[]? TryEncode(string text, out string? error)
    {
        error = null;
        var tokens = Tokenize(text);
        if (tokens.Count < 3)
        {
            error = $"{Quote(text)} is not a record (expected \"name [ttl] [IN] type data\", e.g. \"localhost. IN A 127.0.0.1\")";
            return null;
        }
        byte[]? owner = DnsName.Encode(tokens[0]);
        if (owner is null)
        {
            error = $"{Quote(tokens[0])} is not a domain name";
            return null;
        }
        int i = 1;
        uint ttl = DefaultTtl;
        if (uint.TryParse(tokens[i], NumberStyles.None, CultureInfo.InvariantCulture, out uint t))
        {
            ttl = t;
            i++;
        }
        if (i < tokens.Count && tokens[i].Equals("IN", StringComparison.OrdinalIgnoreCase)) i++;
        if (i >= tokens.Count)
        {
            error = $"{Quote(text)}: missing the record type";
            return null;
        }
        string type = tokens[i].ToUpperInvariant();
        var data = tokens.Skip(i + 1).ToList();
        byte[]? rdata = null;
        ushort typeCode = 0;
        switch (type)
        {
            case "A" or "AAAA":
                typeCode = type == "A" ? DnsType.A : DnsType.AAAA;
                if (data.Count == 1 && IPAddress.TryParse(data[0], out var ip)
                    && ip.AddressFamily == (type == "A" ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6))
                    rdata = ip.GetAddressBytes();
                else error = $"{Quote(text)}: {type} needs one IPv{(type == "A" ? 4 : 6)} address";
                break;
            case "CNAME" or "NS" or "PTR":
                typeCode = type switch { "CNAME" => DnsType.CNAME, "NS" => DnsType.NS, _ => DnsType.PTR };
                rdata = data.Count == 1 ? DnsName.Encode(data[0]) : null;
                if (rdata is null) error = $"{Quote(text)}: {type} needs one domain name";
                break;
            case "TXT":
                typeCode = DnsType.TXT;
                var txt = new List<byte>();
                foreach (string s in data)
                {
                    byte[] b = Encoding.UTF8.GetBytes(s);
                    if (b.Length > 255)
                    {
                        error = $"{Quote(text)}: a TXT string is at most 255 bytes";
                        return null;
                    }
                    txt.Add((byte)b.Length);
                    txt.AddRange(b);
                }
                if (data.Count == 0) error = $"{Quote(text)}: TXT needs at least one string";
                rdata = txt.ToArray();
                break;
            default:
                error = $"{Quote(text)}: record type {Quote(tokens[i])} is not supported in predefined answers (A, AAAA, CNAME, NS, PTR, TXT)";
                break;
        }
        if (error is not null || rdata is null) return null;
        var record = new byte[owner.Length + DnsWire.RecordFixed + rdata.Length];
        owner.CopyTo(record, 0);
        var f = record.AsSpan(owner.Length);
        BinaryPrimitives.WriteUInt16BigEndian(f, typeCode);
        BinaryPrimitives.WriteUInt16BigEndian(f[2..], DnsWire.ClassIn);
        BinaryPrimitives.WriteUInt32BigEndian(f[4..], ttl);
        BinaryPrimitives.WriteUInt16BigEndian(f[8..], (ushort)rdata.Length);
        rdata.CopyTo(f[10..]);
        return record;
    }

    /// <summary>Whitespace-separated tokens; "quoted strings" (with \" escapes) are one token.</summary>
    private static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        bool quoted = false, any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '\\' && i + 1 < text.Length) current.Append(text[++i]);
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"')
            {
                quoted = any = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (any) tokens.Add(current.ToString());
                current.Clear();
                any = false;
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }
        if (any) tokens.Add(current.ToString());
        return tokens;
    }

    private static string Quote(string s) => Configuration.JsonPath.Quote(s);
}
