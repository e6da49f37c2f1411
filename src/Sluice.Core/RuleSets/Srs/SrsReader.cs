using System.IO.Compression;
using Sluice.Core.Configuration;

namespace Sluice.Core.RuleSets.Srs;

/// <summary>
/// Reads a binary rule set (.srs, versions 1–4):
/// 1. "SRS" magic and a version byte, then a zlib stream (inflated up to <see cref="MaxInflatedBytes"/>);
/// 2. a uvarint rule count and the rules: type byte 0 (default: items by id until 0xFF, then the invert
///    byte) or 1 (logical: mode byte 0 and / 1 or, uvarint count, sub-rules, invert byte).
/// Everything is bounds-checked; a malformed file is a <see cref="RuleSetFormatException"/> that says where.
/// </summary>
public static class SrsReader
{
    /// <summary>Largest inflated body accepted: the biggest public geosite files inflate to a few tens of MiB.</summary>
    public const int MaxInflatedBytes = 256 * 1024 * 1024;

    private const int MaxNesting = 32;

    public static bool LooksBinary(ReadOnlySpan<byte> data) => data.StartsWith(SrsItem.Magic);

    public static RuleSetContent Read(ReadOnlySpan<byte> data)
    {
        if (!LooksBinary(data)) throw new RuleSetFormatException("not a binary rule set: it does not start with \"SRS\"");
        if (data.Length < 4) throw new RuleSetFormatException("truncated after the magic: no version byte");
        byte version = data[3];
        if (version is 0 or > RuleSetContent.MaxVersion)
            throw new RuleSetFormatException($"binary rule-set version {version} is not supported (1–{RuleSetContent.MaxVersion})");
        byte[] body = Inflate(data[4..]);
        var cursor = new SrsCursor(body);
        int count = cursor.Count(2, "rule count");
        var rules = new List<HeadlessRule>(count);
        for (int i = 0; i < count; i++)
        {
            try
            {
                rules.Add(ReadRule(ref cursor, 0));
            }
            catch (RuleSetFormatException e)
            {
                throw new RuleSetFormatException($"rules[{i}]: {e.Message}");
            }
        }
        if (cursor.Remaining != 0) throw new RuleSetFormatException($"{cursor.Remaining} byte(s) after the last rule");
        return new RuleSetContent(version, rules);
    }

    private static byte[] Inflate(ReadOnlySpan<byte> compressed)
    {
        using var input = new MemoryStream(compressed.ToArray(), writable: false);
        using var zlib = new ZLibStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        byte[] buffer = new byte[81920];
        try
        {
            int n;
            while ((n = zlib.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (output.Length + n > MaxInflatedBytes)
                    throw new RuleSetFormatException($"the body inflates past {MaxInflatedBytes / (1024 * 1024)} MiB; refused");
                output.Write(buffer, 0, n);
            }
        }
        catch (InvalidDataException e)
        {
            throw new RuleSetFormatException($"the zlib stream is corrupt: {e.Message}");
        }
        return output.ToArray();
    }

    private static HeadlessRule ReadRule(ref SrsCursor input, int depth)
    {
        if (depth > MaxNesting) throw new RuleSetFormatException($"logical rules nested deeper than {MaxNesting}");
        byte type = input.Byte();
        return type switch
        {
            0 => ReadDefault(ref input),
            1 => ReadLogical(ref input, depth),
            _ => throw new RuleSetFormatException($"unknown rule type {type} at byte {input.Offset - 1}"),
        };
    }

    private static LogicalHeadlessRule ReadLogical(ref SrsCursor input, int depth)
    {
        byte mode = input.Byte();
        if (mode > 1) throw new RuleSetFormatException($"unknown logical mode {mode}");
        int count = input.Count(2, "logical rule count");
        var rules = new List<HeadlessRule>(count);
        for (int i = 0; i < count; i++) rules.Add(ReadRule(ref input, depth + 1));
        bool invert = Bool(ref input);
        return new LogicalHeadlessRule(mode == 0 ? LogicalMode.And : LogicalMode.Or, rules) { Invert = invert };
    }

    private static DefaultHeadlessRule ReadDefault(ref SrsCursor input)
    {
        var rule = new DefaultHeadlessRule();
        while (true)
        {
            int at = input.Offset;
            byte item = input.Byte();
            switch (item)
            {
                case SrsItem.QueryType: rule = rule with { QueryType = input.UInt16s("query_type") }; break;
                case SrsItem.Network: rule = rule with { Network = input.Strings("network") }; break;
                case SrsItem.Domain:
                    var (domains, suffixes, raw) = DomainKeys.Dump(SuccinctDomainSet.ReadKeys(ref input));
                    if (raw.Count > 0)
                        throw new RuleSetFormatException($"domain set holds a bare \"ends with\" key ({DomainKeys.Reverse(raw[0])}) that sing-box does not write");
                    rule = rule with { Domain = domains, DomainSuffix = suffixes };
                    break;
                case SrsItem.DomainKeyword: rule = rule with { DomainKeyword = input.Strings("domain_keyword") }; break;
                case SrsItem.DomainRegex: rule = rule with { DomainRegex = input.Strings("domain_regex") }; break;
                case SrsItem.SourceIpCidr: rule = rule with { SourceIpCidr = Prefixes(ref input, "source_ip_cidr") }; break;
                case SrsItem.IpCidr: rule = rule with { IpCidr = Prefixes(ref input, "ip_cidr") }; break;
                case SrsItem.SourcePort: rule = rule with { SourcePort = input.UInt16s("source_port") }; break;
                case SrsItem.SourcePortRange: rule = rule with { SourcePortRange = input.Strings("source_port_range") }; break;
                case SrsItem.Port: rule = rule with { Port = input.UInt16s("port") }; break;
                case SrsItem.PortRange: rule = rule with { PortRange = input.Strings("port_range") }; break;
                case SrsItem.ProcessName: rule = rule with { ProcessName = input.Strings("process_name") }; break;
                case SrsItem.ProcessPath: rule = rule with { ProcessPath = input.Strings("process_path") }; break;
                case SrsItem.ProcessPathRegex: rule = rule with { ProcessPathRegex = input.Strings("process_path_regex") }; break;
                case SrsItem.PackageName: rule = rule with { PackageName = input.Strings("package_name") }; break;
                case SrsItem.WifiSsid: rule = rule with { WifiSsid = input.Strings("wifi_ssid") }; break;
                case SrsItem.WifiBssid: rule = rule with { WifiBssid = input.Strings("wifi_bssid") }; break;
                case SrsItem.NetworkType: rule = rule with { NetworkType = input.Bytes(input.Count(1, "network_type")).ToArray() }; break;
                case SrsItem.NetworkIsExpensive: rule = rule with { NetworkIsExpensive = true }; break;
                case SrsItem.NetworkIsConstrained: rule = rule with { NetworkIsConstrained = true }; break;
                case SrsItem.AdGuardDomain:
                    throw new RuleSetFormatException("AdGuard filter items (converted with `sing-box rule-set convert --type adguard`) are not supported by Sluice");
                case SrsItem.NetworkInterfaceAddress or SrsItem.DefaultInterfaceAddress:
                    throw new RuleSetFormatException("network_interface_address / default_interface_address (version 4 items) are not supported by Sluice");
                case SrsItem.Final:
                    return rule with { Invert = Bool(ref input) };
                default:
                    throw new RuleSetFormatException($"unknown rule item {item} at byte {at}");
            }
        }
    }

    private static List<Tun.IpPrefix> Prefixes(ref SrsCursor input, string what) =>
        IpRangeSet.Read(ref input, what).SelectMany(IpRangeSet.ToPrefixes).ToList();

    /// <summary>Go's binary.Read of a bool: any non-zero byte is true.</summary>
    private static bool Bool(ref SrsCursor input) => input.Byte() != 0;
}
