namespace Sluice.Core.RuleSets;

/// <summary>"source" (JSON), "binary" (.srs), a Clash rule provider's text body by its behavior ("clash-domain", "clash-ipcidr",
/// "clash-classical"), or mihomo's binary "mrs" (its behavior is in the file).</summary>
public enum RuleSetFormat { Source, Binary, ClashDomain, ClashIpCidr, ClashClassical, Mrs }

/// <summary>One entry of route.rule_set (docs/config.md#rule-set).</summary>
public abstract record RuleSetOptions(string Tag);

/// <summary>type "inline": the rules are in the config.</summary>
public sealed record InlineRuleSetOptions(string Tag, RuleSetContent Content) : RuleSetOptions(Tag);

/// <summary>type "local": a file, read at start and again whenever it changes on disk.</summary>
public sealed record LocalRuleSetOptions(string Tag, string Path, RuleSetFormat Format) : RuleSetOptions(Tag)
{
    /// <summary>How the file it names is read (the config's origin decides: the API caller's rights, caps, regular files only).</summary>
    public Sluice.Core.Configuration.IFileSource Files { get; init; } = Sluice.Core.Configuration.BoundedFileSource.Instance;
}

/// <summary>type "remote": fetched over HTTP(S) through <paramref name="DownloadDetour"/> (null = route.final), cached, refreshed.</summary>
/// <param name="UpdateInterval">How often the set is fetched again; default 1 day.</param>
public sealed record RemoteRuleSetOptions(string Tag, Uri Url, RuleSetFormat Format, string? DownloadDetour, TimeSpan UpdateInterval) : RuleSetOptions(Tag)
{
    public static readonly TimeSpan DefaultUpdateInterval = TimeSpan.FromDays(1);
}
