using System.IO.Compression;
using Sluice.Core.Configuration;

namespace Sluice.Core.RuleSets.Srs;

/// <summary>
/// Writes a binary rule set the way sing-box's compiler lays it out: the same items in the same order,
/// the same domain trie and IP range sets, so the inflated body is byte for byte what sing-box writes.
/// The zlib stream itself is .NET's (best compression); any zlib reader inflates it, but its compressed
/// bytes differ from Go's compress/flate.
/// </summary>
public static class SrsWriter
{
    /// <summary>The version sing-box's compiler writes for this content: the source version, lowered when no item needs it.</summary>
    public static byte BinaryVersion(RuleSetContent content)
    {
        byte version = content.Version;
        if (version == 4) version = 3; // the version-4 items (interface addresses) are not supported here
        if (version == 3 && !Any(content.Rules, r => r.NetworkType.Count > 0 || r.NetworkIsExpensive || r.NetworkIsConstrained)) version = 2;
        return version;
    }

    public static byte[] Write(RuleSetContent content) => Write(content, BinaryVersion(content));

    public static byte[] Write(RuleSetContent content, byte version)
    {
        if (version is 0 or > RuleSetContent.MaxVersion) throw new RuleSetFormatException($"version {version} cannot be written (1–{RuleSetContent.MaxVersion})");
        byte[] body = Body(content, version);
        using var output = new MemoryStream();
        output.Write(SrsItem.Magic);
        output.WriteByte(version);
        using (var zlib = new ZLibStream(output, CompressionLevel.SmallestSize, leaveOpen: true)) zlib.Write(body);
        return output.ToArray();
    }

    /// <summary>The uncompressed body: rule count and rules (what golden tests compare).</summary>
    public static byte[] Body(RuleSetContent content, byte version)
    {
        var buffer = new SrsBuffer();
        buffer.Uvarint((ulong)content.Rules.Count);
        for (int i = 0; i < content.Rules.Count; i++)
        {
            try
            {
                WriteRule(buffer, content.Rules[i], version);
            }
            catch (RuleSetFormatException e)
            {
                throw new RuleSetFormatException($"rules[{i}]: {e.Message}");
            }
        }
        return buffer.ToArray();
    }

    private static void WriteRule(SrsBuffer output, HeadlessRule rule, byte version)
    {
        switch (rule)
        {
            case DefaultHeadlessRule d:
                output.Byte(0);
                WriteDefault(output, d, version);
                break;
            case LogicalHeadlessRule l:
                output.Byte(1);
                output.Byte(l.Mode == LogicalMode.And ? (byte)0 : (byte)1);
                output.Uvarint((ulong)l.Rules.Count);
                foreach (var sub in l.Rules) WriteRule(output, sub, version);
                output.Byte(l.Invert ? (byte)1 : (byte)0);
                break;
        }
    }

    private static void WriteDefault(SrsBuffer o, DefaultHeadlessRule r, byte version)
    {
        if (r.QueryType.Count > 0) UInt16s(o, SrsItem.QueryType, r.QueryType);
        if (r.Network.Count > 0) Strings(o, SrsItem.Network, r.Network);
        if (r.Domain.Count > 0 || r.DomainSuffix.Count > 0)
        {
            o.Byte(SrsItem.Domain);
            SuccinctDomainSet.Write(o, DomainKeys.Build(r.Domain, r.DomainSuffix, legacy: version == 1));
        }
        if (r.DomainKeyword.Count > 0) Strings(o, SrsItem.DomainKeyword, r.DomainKeyword);
        if (r.DomainRegex.Count > 0) Strings(o, SrsItem.DomainRegex, r.DomainRegex);
        if (r.SourceIpCidr.Count > 0)
        {
            o.Byte(SrsItem.SourceIpCidr);
            IpRangeSet.Write(o, IpRangeSet.FromPrefixes(r.SourceIpCidr));
        }
        if (r.IpCidr.Count > 0)
        {
            o.Byte(SrsItem.IpCidr);
            IpRangeSet.Write(o, IpRangeSet.FromPrefixes(r.IpCidr));
        }
        if (r.SourcePort.Count > 0) UInt16s(o, SrsItem.SourcePort, r.SourcePort);
        if (r.SourcePortRange.Count > 0) Strings(o, SrsItem.SourcePortRange, r.SourcePortRange);
        if (r.Port.Count > 0) UInt16s(o, SrsItem.Port, r.Port);
        if (r.PortRange.Count > 0) Strings(o, SrsItem.PortRange, r.PortRange);
        if (r.ProcessName.Count > 0) Strings(o, SrsItem.ProcessName, r.ProcessName);
        if (r.ProcessPath.Count > 0) Strings(o, SrsItem.ProcessPath, r.ProcessPath);
        if (r.ProcessPathRegex.Count > 0) Strings(o, SrsItem.ProcessPathRegex, r.ProcessPathRegex);
        if (r.PackageName.Count > 0) Strings(o, SrsItem.PackageName, r.PackageName);
        if (r.NetworkType.Count > 0 || r.NetworkIsExpensive || r.NetworkIsConstrained)
        {
            if (version < 3) throw new RuleSetFormatException("network_type, network_is_expensive and network_is_constrained need version 3 or later");
            if (r.NetworkType.Count > 0)
            {
                o.Byte(SrsItem.NetworkType);
                o.Uvarint((ulong)r.NetworkType.Count);
                o.Bytes(r.NetworkType.ToArray());
            }
            if (r.NetworkIsExpensive) o.Byte(SrsItem.NetworkIsExpensive);
            if (r.NetworkIsConstrained) o.Byte(SrsItem.NetworkIsConstrained);
        }
        if (r.WifiSsid.Count > 0) Strings(o, SrsItem.WifiSsid, r.WifiSsid);
        if (r.WifiBssid.Count > 0) Strings(o, SrsItem.WifiBssid, r.WifiBssid);
        o.Byte(SrsItem.Final);
        o.Byte(r.Invert ? (byte)1 : (byte)0);
    }

    private static void Strings(SrsBuffer o, byte item, IReadOnlyList<string> values)
    {
        o.Byte(item);
        o.Uvarint((ulong)values.Count);
        foreach (string v in values) o.String(v);
    }

    private static void UInt16s(SrsBuffer o, byte item, IReadOnlyList<ushort> values)
    {
        o.Byte(item);
        o.Uvarint((ulong)values.Count);
        foreach (ushort v in values) o.UInt16(v);
    }

    private static bool Any(IReadOnlyList<HeadlessRule> rules, Func<DefaultHeadlessRule, bool> test) => rules.Any(r => r switch
    {
        DefaultHeadlessRule d => test(d),
        LogicalHeadlessRule l => Any(l.Rules, test),
        _ => false,
    });
}
