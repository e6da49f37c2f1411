using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// mihomo's IPv6 switches, for `sluice import config.yaml`:
/// 1. dns.ipv6 (mihomo's default false: its DNS answers AAAA with no address) → dns.strategy ipv4_only unless it is true;
/// 2. top-level ipv6: false (default true: mihomo then resolves no IPv6 address and dials none) → dns.strategy ipv4_only
///    whatever dns.ipv6 says, domain_strategy ipv4_only on the direct outbound and on every proxy that names no
///    ip-version of its own (the names they dial resolve to IPv4 only), and a rule right after the DNS hijack that
///    rejects every IPv6 flow. mihomo gives its TUN no IPv6 address then, so an app's IPv6 leaves outside the tunnel;
///    Sluice keeps capturing it and refuses it instead (the app falls back to IPv4), so nothing goes out over IPv6.
/// </summary>
public static partial class ClashYaml
{
    /// <summary>True when the profile's top-level ipv6 is false.</summary>
    private static bool Ipv6Off(YamlMappingNode root) => IsFalse(Scalar(root, "ipv6"));

    /// <summary>The DNS answers AAAA with no address: dns.ipv6 not true (mihomo's default) or the top-level ipv6 off.</summary>
    private static bool DnsWithoutAaaa(YamlMappingNode root, YamlMappingNode dns) => !IsTrue(Scalar(dns, "ipv6")) || Ipv6Off(root);

    /// <summary>The rule refusing IPv6 flows, and IPv4-only dialing for the outbounds that dial names.</summary>
    private static JsonObject? WithoutIpv6(YamlMappingNode root, JsonArray outbounds)
    {
        if (!Ipv6Off(root)) return null;
        foreach (var o in outbounds.OfType<JsonObject>())
        {
            bool dials = (string?)o["type"] == "direct" || o["server"] is not null;
            if (dials && o["domain_strategy"] is null && o["domain_resolver"] is null) o["domain_strategy"] = "ipv4_only";
        }
        return new JsonObject { ["ip_version"] = 6, ["action"] = "reject" };
    }
}
