using System.Buffers.Binary;

namespace Sluice.Core.Dns;

/// <summary>Response codes (RFC 1035 4.1.1) Sluice writes or reads.</summary>
public enum DnsRcode : byte
{
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
    NotImp = 4,
    Refused = 5,
}

/// <summary>Record types Sluice looks at; any other 16-bit type passes through untouched.</summary>
public static class DnsType
{
    public const ushort A = 1;
    public const ushort NS = 2;
    public const ushort CNAME = 5;
    public const ushort SOA = 6;
    public const ushort PTR = 12;
    public const ushort MX = 15;
    public const ushort TXT = 16;
    public const ushort AAAA = 28;
    public const ushort SRV = 33;
    public const ushort OPT = 41;
    public const ushort SVCB = 64;
    public const ushort HTTPS = 65;
    public const ushort ANY = 255;

    private static readonly (string Name, ushort Value)[] Names =
    [
        ("A", A), ("NS", NS), ("CNAME", CNAME), ("SOA", SOA), ("PTR", PTR), ("MX", MX), ("TXT", TXT),
        ("AAAA", AAAA), ("SRV", SRV), ("OPT", OPT), ("SVCB", SVCB), ("HTTPS", HTTPS), ("ANY", ANY),
        ("CAA", 257), ("DS", 43), ("DNSKEY", 48), ("NAPTR", 35),
    ];

    /// <summary>The mnemonic of a type ("AAAA"), null when it has none here.</summary>
    public static string? NameOf(ushort type)
    {
        foreach (var (name, value) in Names)
            if (value == type) return name;
        return null;
    }

    /// <summary>A type by its mnemonic ("AAAA", case-insensitive) or "TYPEnnn" (RFC 3597).</summary>
    public static bool TryParse(string text, out ushort type)
    {
        foreach (var (name, value) in Names)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                type = value;
                return true;
            }
        }
        if (text.StartsWith("TYPE", StringComparison.OrdinalIgnoreCase) && ushort.TryParse(text.AsSpan(4), out type)) return true;
        type = 0;
        return false;
    }
}

/// <summary>
/// RFC 1035 4.1 header layout and flag bits. Every read of untrusted bytes goes through
/// <see cref="DnsName"/> and <see cref="DnsRecordCursor"/>, which check bounds before touching a byte.
/// </summary>
internal static class DnsWire
{
    public const int HeaderLength = 12;
    public const int QuestionFixed = 4;     // type + class after the name
    public const int RecordFixed = 10;      // type, class, TTL, RDLENGTH after the owner name
    public const ushort ClassIn = 1;

    public const ushort FlagQr = 0x8000;
    public const ushort OpcodeMask = 0x7800;
    public const ushort FlagAa = 0x0400;
    public const ushort FlagTc = 0x0200;
    public const ushort FlagRd = 0x0100;
    public const ushort FlagRa = 0x0080;
    public const ushort FlagAd = 0x0020;
    public const ushort FlagCd = 0x0010;
    public const ushort RcodeMask = 0x000F;

    /// <summary>Largest UDP payload Sluice offers upstream and to clients (the DNS flag day 2020 value).</summary>
    public const ushort EdnsUdpSize = 1232;

    /// <summary>A DNS message over TCP is at most 65535 bytes (2-byte length prefix, RFC 1035 4.2.2).</summary>
    public const int MaxMessage = 65535;

    /// <summary>An OPT pseudo-record with no options: root name, type 41, class = UDP size, TTL 0, RDLENGTH 0.</summary>
    public const int OptLength = 11;

    public static ushort Id(ReadOnlySpan<byte> m) => BinaryPrimitives.ReadUInt16BigEndian(m);

    public static ushort Flags(ReadOnlySpan<byte> m) => BinaryPrimitives.ReadUInt16BigEndian(m[2..]);

    public static ushort Count(ReadOnlySpan<byte> m, int section) => BinaryPrimitives.ReadUInt16BigEndian(m[(4 + 2 * section)..]);

    public static void SetId(Span<byte> m, ushort id) => BinaryPrimitives.WriteUInt16BigEndian(m, id);

    public static void SetFlags(Span<byte> m, ushort flags) => BinaryPrimitives.WriteUInt16BigEndian(m[2..], flags);

    public static void SetCount(Span<byte> m, int section, ushort count) => BinaryPrimitives.WriteUInt16BigEndian(m[(4 + 2 * section)..], count);

    public static void WriteHeader(Span<byte> m, ushort id, ushort flags, ushort qd, ushort an, ushort ns, ushort ar)
    {
        BinaryPrimitives.WriteUInt16BigEndian(m, id);
        BinaryPrimitives.WriteUInt16BigEndian(m[2..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(m[4..], qd);
        BinaryPrimitives.WriteUInt16BigEndian(m[6..], an);
        BinaryPrimitives.WriteUInt16BigEndian(m[8..], ns);
        BinaryPrimitives.WriteUInt16BigEndian(m[10..], ar);
    }

    public static int WriteOpt(Span<byte> m)
    {
        m[0] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(m[1..], DnsType.OPT);
        BinaryPrimitives.WriteUInt16BigEndian(m[3..], EdnsUdpSize);
        BinaryPrimitives.WriteUInt32BigEndian(m[5..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(m[9..], 0);
        return OptLength;
    }

    /// <summary>The OPT record an upstream query carries: with an EDNS Client Subnet option when <paramref name="subnet"/> is set.</summary>
    public static int OptLengthFor(Tun.IpPrefix? subnet) => OptLength + (subnet is { } s ? EdnsClientSubnet.Length(s) : 0);

    public static int WriteOpt(Span<byte> m, Tun.IpPrefix? subnet)
    {
        int n = WriteOpt(m);
        if (subnet is not { } s) return n;
        int option = EdnsClientSubnet.Write(m[n..], s);
        BinaryPrimitives.WriteUInt16BigEndian(m[9..], (ushort)option);
        return n + option;
    }

    /// <summary>A resource record whose owner is the question name (pointer to offset 12, RFC 1035 4.1.4).</summary>
    public static int WriteRecordAtQuestion(Span<byte> m, ushort type, uint ttl, ReadOnlySpan<byte> rdata)
    {
        BinaryPrimitives.WriteUInt16BigEndian(m, 0xC000 | HeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(m[2..], type);
        BinaryPrimitives.WriteUInt16BigEndian(m[4..], ClassIn);
        BinaryPrimitives.WriteUInt32BigEndian(m[6..], ttl);
        BinaryPrimitives.WriteUInt16BigEndian(m[10..], (ushort)rdata.Length);
        rdata.CopyTo(m[12..]);
        return 12 + rdata.Length;
    }
}
