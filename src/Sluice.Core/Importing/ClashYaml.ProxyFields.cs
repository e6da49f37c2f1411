using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// Fields every Clash proxy type may carry: the booleans as mihomo reads them, the dial fields Sluice has
/// (dialer-proxy → detour, interface-name, routing-mark, ip-version, udp: false), and the ones it refuses for the
/// proxy alone (multiplexing, UDP over TCP, ECH, a certificate pin, VLESS encryption, trojan's ss-opts):
/// dropping any of them would change where the traffic goes or how it is protected.
/// </summary>
public static partial class ClashYaml
{
    /// <summary>A YAML 1.2 true, as mihomo's YAML library reads it (true, True, TRUE).</summary>
    internal static bool IsTrue(string? value) => value is "true" or "True" or "TRUE";

    internal static bool IsFalse(string? value) => value is "false" or "False" or "FALSE";

    /// <summary>Throws for a field switched on that Sluice cannot honour for this proxy; the import goes on without it.</summary>
    private static void RefuseUnsupported(YamlMappingNode entry)
    {
        if (IsTrue(Scalar(entry, "udp-over-tcp")))
            throw new ImportException("udp-over-tcp is not supported by Sluice: its UDP would go to the server's UDP port instead");
        if (entry.Children.TryGetValue(new YamlScalarNode("smux"), out var smux) && smux is YamlMappingNode s && IsTrue(Scalar(s, "enabled")))
            throw new ImportException("smux (multiplexing) is not supported by Sluice yet");
        if (entry.Children.TryGetValue(new YamlScalarNode("ech-opts"), out var ech) && ech is YamlMappingNode e && IsTrue(Scalar(e, "enable")))
            throw new ImportException("ech-opts (Encrypted Client Hello) is not supported by Sluice: the server name would travel in the clear");
        if (Scalar(entry, "fingerprint") is { Length: > 0 })
            throw new ImportException("fingerprint (a pinned certificate hash) is not supported by Sluice: pin the server's CA with tls.certificate in the config instead");
        if (entry.Children.TryGetValue(new YamlScalarNode("ss-opts"), out var ssOpts) && ssOpts is YamlMappingNode so && IsTrue(Scalar(so, "enabled")))
            throw new ImportException("ss-opts (trojan-go's Shadowsocks layer) is not supported by Sluice");
        if (Scalar(entry, "encryption") is { Length: > 0 } encryption && encryption != "none")
            throw new ImportException($"encryption \"{encryption}\" is not supported (only none)");
    }

    /// <summary>mihomo's ip-version → sing-box's domain_strategy ("dual", the default, is none).</summary>
    private static readonly Dictionary<string, string> IpVersions = new(StringComparer.Ordinal)
    {
        ["ipv4"] = "ipv4_only", ["ipv6"] = "ipv6_only", ["ipv4-prefer"] = "prefer_ipv4", ["ipv6-prefer"] = "prefer_ipv6",
    };

    /// <summary>
    /// interface-name, routing-mark, ip-version and udp: false of one proxy as the outbound's bind_interface,
    /// routing_mark, domain_strategy and network (a proxy type that carries UDP).
    /// </summary>
    private static void AddDialFields(YamlMappingNode entry, JsonObject o)
    {
        if (Scalar(entry, "interface-name") is { Length: > 0 } device) o["bind_interface"] = device;
        if (Scalar(entry, "routing-mark") is { } markText)
        {
            if (!uint.TryParse(markText, NumberStyles.None, CultureInfo.InvariantCulture, out uint mark))
                throw new ImportException($"routing-mark \"{markText}\" is not a number");
            if (mark != 0) o["routing_mark"] = mark;
        }
        if (Scalar(entry, "ip-version") is { Length: > 0 } ipVersion && ipVersion != "dual")
            o["domain_strategy"] = IpVersions.TryGetValue(ipVersion, out var strategy) ? strategy
                : throw new ImportException($"ip-version \"{ipVersion}\" is not one of dual, {string.Join(", ", IpVersions.Keys)}");
        if (IsFalse(Scalar(entry, "udp")) && (string?)o["type"] is "shadowsocks" or "socks" or "vless" or "vmess" or "trojan") o["network"] = "tcp";
    }

    /// <summary>
    /// dialer-proxy: the proxy is reached through another proxy (or, in a whole config, a group) — sing-box's "detour".
    /// A proxy whose dialer-proxy was not imported is left out with a note: dialing its server directly would send the
    /// traffic another way than the config says.
    /// </summary>
    private static void ResolveDialerProxies(List<(JsonObject Outbound, string Dialer, string Where)> chained, Dictionary<string, string> proxyTags,
        IReadOnlySet<string> groupNames, List<JsonObject> outbounds, List<string> notes)
    {
        // Until nothing changes: a proxy left out takes the proxies chained through it along.
        for (bool removed = true; removed;)
        {
            removed = false;
            foreach (var (o, dialer, where) in chained)
            {
                if (!outbounds.Contains(o)) continue;
                string? tag = proxyTags.TryGetValue(dialer, out var t) ? t : groupNames.Contains(dialer) ? dialer : null;
                if (tag is not null)
                {
                    o["detour"] = tag;
                    continue;
                }
                outbounds.Remove(o);
                proxyTags.Remove(proxyTags.First(p => p.Value == (string)o["tag"]!).Key);
                notes.Add($"{where}: \"{o["tag"]}\" skipped: its dialer-proxy \"{dialer}\" is not an imported proxy{(groupNames.Count > 0 ? " or group" : "")}");
                removed = true;
            }
        }
    }
}
