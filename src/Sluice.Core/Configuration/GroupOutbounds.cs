namespace Sluice.Core.Configuration;

/// <summary>
/// A server group (docs/config.md#groups): "selector" (manual, default member), "urltest" (the
/// member with the lowest TCP connect latency, measured in parallel) or "fallback" (Sluice's: the
/// first healthy member in order).
/// </summary>
/// <param name="Members">Outbound tags, in order ("outbounds").</param>
/// <param name="Default">selector: the member selected at start; default the first.</param>
/// <param name="Interval">urltest/fallback: time between probe rounds; default 1 m. Risk: shorter finds a dead server sooner but sends more probes.</param>
/// <param name="Tolerance">urltest: switch only to a member faster by more than this; default 50 ms.</param>
/// <param name="IdleTimeout">urltest/fallback: probing stops when the group carried no flow this long; default 30 m.</param>
/// <param name="InterruptExisting">Close the connections of the previous member on every switch; default false (those of a dead member are always closed).</param>
public sealed record GroupOutboundOptions(
    string GroupType,
    string Tag,
    IReadOnlyList<string> Members,
    string? Default,
    TimeSpan Interval,
    TimeSpan Tolerance,
    TimeSpan IdleTimeout,
    bool InterruptExisting) : OutboundOptions(GroupType, Tag)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromMinutes(30);
}

/// <summary>Parsers of the group types, registered in <see cref="OutboundSection"/>.</summary>
internal static class GroupOutboundParsers
{
    public static OutboundOptions? ParseSelector(ObjectReader r, string tag) => Parse(r, tag, "selector");

    public static OutboundOptions? ParseUrlTest(ObjectReader r, string tag) => Parse(r, tag, "urltest");

    public static OutboundOptions? ParseFallback(ObjectReader r, string tag) => Parse(r, tag, "fallback");

    private static OutboundOptions? Parse(ObjectReader r, string tag, string type)
    {
        int before = r.Errors.Count;
        var members = r.Strings("outbounds");
        // A group fed by a subscription may start empty (it must then be given an empty list, not none);
        // SubscriptionSection.CheckReferences reports an empty group that no subscription feeds.
        if (members.Count == 0 && !r.Has("outbounds")) r.Errors.Add(r.PathOf("outbounds"), "required: at least one outbound tag, or [] for a group fed by a subscription");
        for (int i = 0; i < members.Count; i++)
        {
            string path = members.Count == 1 ? r.PathOf("outbounds") : JsonPath.Index(r.PathOf("outbounds"), i);
            if (members[i] == tag) r.Errors.Add(path, "a group cannot contain itself");
        }
        string? defaultMember = null;
        TimeSpan interval = GroupOutboundOptions.DefaultInterval, tolerance = GroupOutboundOptions.DefaultTolerance, idle = GroupOutboundOptions.DefaultIdleTimeout;
        if (type == "selector")
        {
            defaultMember = r.String("default");
            if (defaultMember is not null && !members.Contains(defaultMember))
                r.Errors.Add(r.PathOf("default"), $"{JsonPath.Quote(defaultMember)} is not one of this group's outbounds");
        }
        else
        {
            // sing-box's urltest measures an HTTP request to "url"; Sluice measures TCP connect latency to
            // each server instead, so "url" is accepted for compatibility and not used.
            r.String("url");
            interval = r.Duration("interval") ?? interval;
            if (interval < TimeSpan.FromSeconds(1)) r.Errors.Add(r.PathOf("interval"), "must be at least 1s");
            if (r.Integer("tolerance", 0, 60_000) is { } ms) tolerance = TimeSpan.FromMilliseconds(ms);
            idle = r.Duration("idle_timeout") ?? idle;
        }
        bool interrupt = r.Bool("interrupt_exist_connections", false);
        return r.Errors.Count > before ? null
            : new GroupOutboundOptions(type, tag, members, defaultMember, interval, tolerance, idle, interrupt);
    }
}

internal static class GroupReferences
{
    /// <summary>The JSON path of member <paramref name="i"/> (a one-item list may be a scalar).</summary>
    public static string PathOf(string itemPath, int i, int count) =>
        count == 1 ? JsonPath.Field(itemPath, "outbounds") : JsonPath.Index(JsonPath.Field(itemPath, "outbounds"), i);
}
