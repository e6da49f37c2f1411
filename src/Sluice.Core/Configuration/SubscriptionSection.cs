using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>
/// One provider subscription (Sluice's own section, not sing-box's; docs/config.md#subscriptions):
/// a URL whose body (share links, base64 of share links, or a Clash YAML proxies list) becomes the
/// members of a group, refreshed on a schedule and early when every member of the group fails.
/// </summary>
/// <param name="Url">https:// only: the body carries passwords and decides where traffic goes.</param>
/// <param name="Interval">Time between fetches; default 1 h. Risk: shorter loads the provider and reveals activity more often.</param>
/// <param name="Group">The selector/urltest/fallback group it feeds: the group's members are its own "outbounds", then the
/// servers of each subscription feeding it, in the order of the subscriptions.</param>
/// <param name="CachePath">
/// Where the last good body is kept (written atomically, 0600); default STATE/subscriptions/TAG.txt (STATE = /var/lib/sluice,
/// or the daemon's --state-dir). Configs sent to the daemon's API may not set it: the root daemon writes there.
/// </param>
/// <param name="CaFile">A PEM CA certificate trusted (instead of the system store) for this URL; default none (system store).</param>
/// <param name="Insecure">Accept any server certificate; default false. Risk: anyone on the path can feed the group its own servers. Tests only.</param>
/// <param name="Timeout">Limit of one fetch; default 30 s.</param>
public sealed record SubscriptionOptions(
    string Tag,
    Uri Url,
    TimeSpan Interval,
    string Group,
    string CachePath,
    string? CaFile,
    bool Insecure,
    TimeSpan Timeout)
{
    /// <summary>How the file it names is read (the config's origin decides: the API caller's rights, caps, regular files only).</summary>
    public Sluice.Core.Configuration.IFileSource Files { get; init; } = Sluice.Core.Configuration.BoundedFileSource.Instance;

    /// <summary>Which of the body's servers feed the group (filter, exclude_filter, exclude_type); default all of them.</summary>
    public Sluice.Core.Subscriptions.ServerFilter Filter { get; init; } = Sluice.Core.Subscriptions.ServerFilter.None;

    /// <summary>What each server gets changed before the filter sees it ("override"); default nothing.</summary>
    public Sluice.Core.Subscriptions.ServerOverride Override { get; init; } = Sluice.Core.Subscriptions.ServerOverride.None;

    /// <summary>
    /// HTTP headers sent with each fetch ("headers": {"Name": "value" | ["v1", …]}); a "User-Agent" here replaces Sluice's
    /// own (providers choose the body's format, or refuse, by it). Risk: a header such as Authorization is a secret kept in
    /// the config.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public static readonly TimeSpan DefaultInterval = TimeSpan.FromHours(1);
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Where it stands in the config ("subscriptions[0]"), for errors found after parsing.</summary>
    internal string ConfigPath { get; init; } = "";
}

/// <summary>"subscriptions": [{tag, url, interval, group, filter, exclude_filter, exclude_type, override, headers, cache_path, ca_file, insecure, timeout}].</summary>
internal static class SubscriptionSection
{
    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            ObjectReader.TypeError(path, "an array", element, config.Errors);
            return;
        }
        var errors = config.Errors;
        var tags = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            string itemPath = JsonPath.Index(path, i++);
            if (ObjectReader.Open(item, itemPath, errors) is not { } r) continue;
            int before = errors.Count;
            string? tag = r.String("tag");
            if (tag is null) errors.Add(r.PathOf("tag"), "required: a name for this subscription (it names the cache file)");
            else if (tag.Length == 0 || tag.IndexOfAny(['/', '\\', '\0']) >= 0 || tag is "." or "..")
                errors.Add(r.PathOf("tag"), $"{JsonPath.Quote(tag)} must be a plain name (it names the cache file)");
            else if (!tags.Add(tag)) errors.Add(r.PathOf("tag"), $"duplicate subscription tag {JsonPath.Quote(tag)}");

            string? urlText = r.String("url");
            Uri? url = null;
            if (urlText is null) errors.Add(r.PathOf("url"), "required: the https:// address of the provider's list");
            else if (!Uri.TryCreate(urlText, UriKind.Absolute, out url) || url.Scheme != Uri.UriSchemeHttps)
                errors.Add(r.PathOf("url"), $"{JsonPath.Quote(urlText)} is not an https:// URL (a plain-http list could be rewritten on the way)");

            var interval = r.Duration("interval") ?? SubscriptionOptions.DefaultInterval;
            if (interval < TimeSpan.FromSeconds(1)) errors.Add(r.PathOf("interval"), "must be at least 1s");
            string? group = r.String("group");
            if (group is null) errors.Add(r.PathOf("group"), "required: the tag of the selector/urltest/fallback group it feeds");
            else config.ReferenceOutbound(group, r.PathOf("group"));

            string? cache = r.String("cache_path");
            if (cache is { Length: 0 }) errors.Add(r.PathOf("cache_path"), "must not be empty (omit it for the default)");
            else if (cache is not null && config.Origin.FromApi)
                errors.Add(r.PathOf("cache_path"), $"a config sent to the daemon cannot choose a file the daemon writes as root; omit it (the cache is {Path.Combine(config.Origin.SubscriptionCacheDirectory, "TAG.txt")})");
            string? ca = r.String("ca_file");
            if (ca is not null) errors.ReadText(r.PathOf("ca_file"), ca, EngineLimits.Default.PemFileBytes);
            bool insecure = r.Bool("insecure", false);
            if (insecure && ca is not null) errors.Add(r.PathOf("insecure"), "with ca_file set, insecure would ignore it: choose one");
            var timeout = r.Duration("timeout") ?? SubscriptionOptions.DefaultTimeout;
            if (timeout < TimeSpan.FromSeconds(1)) errors.Add(r.PathOf("timeout"), "must be at least 1s");
            var keep = r.List("filter", NameExpression);
            var drop = r.List("exclude_filter", NameExpression);
            var dropTypes = r.List("exclude_type", OutboundType);
            var change = ParseOverride(r, config);
            var headers = Sluice.Core.Outbounds.Transport.TransportOptionsParser.ParseHeaders(r);
            if (headers.Count > MaxHeaders) errors.Add(r.PathOf("headers"), $"at most {MaxHeaders} headers");
            r.Finish();
            if (errors.Count > before) continue;
            config.Subscriptions.Add(new SubscriptionOptions(tag!, url!, interval, group!,
                 cache ?? Path.Combine(config.Origin.SubscriptionCacheDirectory, tag + ".txt"), ca, insecure, timeout)
            {
                ConfigPath = itemPath, Files = errors.Files, Filter = new Sluice.Core.Subscriptions.ServerFilter(keep, drop, dropTypes),
                Override = change, Headers = headers,
            });
        }
    }

    /// <summary>Headers a subscription may send; a provider needs a User-Agent and perhaps a token, not a page of them.</summary>
    private const int MaxHeaders = 32;

    /// <summary>"override": {tag_prefix, tag_suffix, tag_replace: [{pattern, replacement}], detour, udp, tls_insecure}.</summary>
    private static Sluice.Core.Subscriptions.ServerOverride ParseOverride(ObjectReader subscription, ConfigBuilder config)
    {
        if (subscription.Take("override") is not { } element) return Sluice.Core.Subscriptions.ServerOverride.None;
        if (ObjectReader.Open(element, subscription.PathOf("override"), subscription.Errors) is not { } r) return Sluice.Core.Subscriptions.ServerOverride.None;
        string? prefix = r.String("tag_prefix");
        string? suffix = r.String("tag_suffix");
        var replace = r.List("tag_replace", Replacement);
        string? detour = r.String("detour");
        if (detour is { Length: 0 }) detour = null;
        if (detour is not null) config.ReferenceOutbound(detour, r.PathOf("detour"));
        bool? udp = r.Has("udp") ? r.Bool("udp", true) : null;
        bool insecure = r.Bool("tls_insecure", false);
        r.Finish();
        return new Sluice.Core.Subscriptions.ServerOverride(prefix, suffix, replace, detour, udp, insecure);
    }

    /// <summary>{"pattern": expression, "replacement": text with $1 … for its groups}; an error names the item.</summary>
    private static Optional<Sluice.Core.Subscriptions.TagReplacement> Replacement(JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.Open(e, path, errors) is not { } r) return default;
        var pattern = r.Take("pattern") is { } p ? NameExpression(p, r.PathOf("pattern"), errors) : default;
        if (!r.Has("pattern")) errors.Add(r.PathOf("pattern"), "required: the expression to replace in each server's tag");
        string replacement = r.String("replacement") ?? "";
        r.Finish();
        if (!pattern.HasValue) return default;
        return new Sluice.Core.Subscriptions.TagReplacement(pattern.Value, replacement);
    }

    /// <summary>A server-name expression (.NET syntax, which mihomo's regexp2 shares); an error names the item.</summary>
    private static Optional<string> NameExpression(JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } s) return default;
        try
        {
            _ = Sluice.Core.Subscriptions.ServerFilter.Compile(s.Value, EngineLimits.Default.NameFilterTimeout);
            return s;
        }
        catch (ArgumentException ex)
        {
            errors.Add(path, $"{JsonPath.Quote(s.Value)} is not a valid regular expression: {ex.Message}");
            return default;
        }
    }

    private static Optional<string> OutboundType(JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } s) return default;
        if (OutboundSection.ServerTypeNames.Contains(s.Value)) return s;
        errors.Add(path, $"{JsonPath.Quote(s.Value)} is not a server type (one of {string.Join(", ", OutboundSection.ServerTypeNames)})");
        return default;
    }

    /// <summary>True when dialing through <paramref name="from"/> may pass through <paramref name="target"/> (group members, detours).</summary>
    private static bool Reaches(ConfigBuilder config, string from, string target)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var next = new Stack<string>([from]);
        while (next.TryPop(out var tag))
        {
            if (tag == target) return true;
            if (!seen.Add(tag) || config.Outbounds.FirstOrDefault(o => o.Tag == tag) is not { } o) continue;
            if (o is GroupOutboundOptions group) foreach (var m in group.Members) next.Push(m);
            if (ProxyServerOptions.Of(o)?.Detour is { } detour) next.Push(detour);
        }
        return false;
    }

    /// <summary>
    /// After all sections: each subscription feeds a group (not a proxy); several may feed one group;
    /// a group with no members of its own must be fed by a subscription.
    /// </summary>
    public static void CheckReferences(ConfigBuilder config)
    {
        var fed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in config.Subscriptions)
        {
            var target = config.Outbounds.FirstOrDefault(o => o.Tag == s.Group);
            if (target is null) continue; // already reported by the outbound reference check
            if (target is not GroupOutboundOptions)
                config.Errors.Add(JsonPath.Field(s.ConfigPath, "group"), $"{JsonPath.Quote(s.Group)} is a {target.Type} outbound, not a selector/urltest/fallback group");
            else fed.Add(s.Group);
        }
        foreach (var s in config.Subscriptions)
        {
            if (s.Override.Detour is { } detour && Reaches(config, detour, s.Group))
                config.Errors.Add(JsonPath.Field(JsonPath.Field(s.ConfigPath, "override"), "detour"),
                    $"dialing through {JsonPath.Quote(detour)} can reach group {JsonPath.Quote(s.Group)}, which this subscription feeds: its servers would be dialed through themselves");
        }
        int index = 0;
        foreach (var o in config.Outbounds)
        {
            if (o is GroupOutboundOptions { Members.Count: 0 } g && !fed.Contains(g.Tag))
                config.Errors.Add($"outbounds[{index}].outbounds", $"group {JsonPath.Quote(g.Tag)} has no members: list at least one outbound tag, or feed it from a subscription");
            if (o is not WireGuardEndpointOptions) index++;
        }
    }
}
