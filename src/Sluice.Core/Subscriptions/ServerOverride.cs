using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Sluice.Core.Subscriptions;

/// <summary>One <c>tag_replace</c> step: every match of <see cref="Pattern"/> in a server's tag becomes <see cref="Replacement"/> ($1 … its groups).</summary>
public sealed record TagReplacement(string Pattern, string Replacement);

/// <summary>
/// What a subscription changes in each of its servers before they feed the group (a subscription's <c>override</c>,
/// mihomo's provider <c>override</c>), in this order:
/// 1. the tag: each <c>tag_replace</c> step in turn, then <c>tag_prefix</c> and <c>tag_suffix</c> around it (users
///    running several providers tell their servers apart this way, and group filters then pick by the prefix);
/// 2. <c>detour</c>: every server is dialed through that outbound (mihomo's <c>dialer-proxy</c>; not a WireGuard
///    endpoint, which has none);
/// 3. <c>udp</c>: false makes every proxy server TCP only (<c>"network": "tcp"</c>); true changes nothing (servers carry
///    UDP by default);
/// 4. <c>tls_insecure</c>: true sets <c>tls.insecure</c> on every server whose TLS is on (mihomo's
///    <c>skip-cert-verify</c>). Risk: anyone on the path can then impersonate those servers.
/// A replacement that runs past <see cref="EngineLimits.NameFilterTimeout"/> leaves the tag as it was.
/// Tags made equal by the override are told apart as the body's own duplicates are ("NAME-2", …).
/// </summary>
public sealed class ServerOverride
{
    public static ServerOverride None { get; } = new(null, null, [], null, null, false);

    private readonly (Regex Pattern, string Replacement)[] _replace;

    public ServerOverride(string? tagPrefix, string? tagSuffix, IReadOnlyList<TagReplacement> tagReplace, string? detour, bool? udp, bool tlsInsecure,
        TimeSpan? timeout = null)
    {
        var limit = timeout ?? EngineLimits.Default.NameFilterTimeout;
        TagPrefix = tagPrefix;
        TagSuffix = tagSuffix;
        TagReplace = tagReplace;
        Detour = detour;
        Udp = udp;
        TlsInsecure = tlsInsecure;
        _replace = tagReplace.Select(r => (ServerFilter.Compile(r.Pattern, limit), r.Replacement)).ToArray();
    }

    public string? TagPrefix { get; }

    public string? TagSuffix { get; }

    public IReadOnlyList<TagReplacement> TagReplace { get; }

    public string? Detour { get; }

    public bool? Udp { get; }

    public bool TlsInsecure { get; }

    /// <summary>True when the tags change.</summary>
    public bool Renames => TagPrefix is not null || TagSuffix is not null || _replace.Length > 0;

    public bool IsNone => !Renames && Detour is null && Udp is not false && !TlsInsecure;

    /// <summary>The subscription's "override" object that reads back as this one; null when it changes nothing.</summary>
    public JsonObject? ToJson()
    {
        var change = new JsonObject();
        if (TagPrefix is not null) change["tag_prefix"] = TagPrefix;
        if (TagSuffix is not null) change["tag_suffix"] = TagSuffix;
        if (TagReplace.Count > 0)
            change["tag_replace"] = new JsonArray(TagReplace.Select(r => (JsonNode)new JsonObject { ["pattern"] = r.Pattern, ["replacement"] = r.Replacement }).ToArray());
        if (Detour is not null) change["detour"] = Detour;
        if (Udp is { } carriesUdp) change["udp"] = carriesUdp;
        if (TlsInsecure) change["tls_insecure"] = true;
        return change.Count > 0 ? change : null;
    }

    /// <summary>Copies of the servers (sing-box outbound objects) with the override applied; the input is not changed.</summary>
    public IReadOnlyList<JsonObject> Apply(IReadOnlyList<JsonObject> servers)
    {
        if (IsNone) return servers;
        var result = new List<JsonObject>(servers.Count);
        var tags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var original in servers)
        {
            var server = original.DeepClone().AsObject();
            string wanted = Retag((string?)server["tag"] ?? "");
            string tag = wanted;
            for (int n = 2; !tags.Add(tag); n++) tag = $"{wanted}-{n}";
            server["tag"] = tag;
            string type = (string?)server["type"] ?? "";
            if (Detour is not null && type != "wireguard") server["detour"] = Detour; // an endpoint has no detour
            if (Udp is false && type is "shadowsocks" or "socks" or "vless" or "vmess" or "trojan") server["network"] = "tcp";
            if (TlsInsecure && server["tls"] is JsonObject tls && (bool?)tls["enabled"] == true) tls["insecure"] = true;
            result.Add(server);
        }
        return result;
    }

    private string Retag(string tag)
    {
        foreach (var (pattern, replacement) in _replace)
        {
            try
            {
                tag = pattern.Replace(tag, replacement);
            }
            catch (RegexMatchTimeoutException)
            {
                // A pathological expression on this tag: the step is skipped, as a filter that runs out of time does not match.
            }
        }
        return TagPrefix + tag + TagSuffix;
    }
}
