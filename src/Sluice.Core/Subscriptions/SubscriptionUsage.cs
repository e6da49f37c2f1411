using System.Globalization;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// What a provider says of the account in its <c>subscription-userinfo</c> header
/// ("upload=1234; download=5678; total=107374182400; expire=1767225600"): bytes used and allowed, and when
/// it ends (Unix seconds; 0 = never). Dashboards show it as a usage bar.
/// </summary>
public sealed record SubscriptionUsage(long Upload, long Download, long Total, long Expire)
{
    public const string Header = "subscription-userinfo";

    /// <summary>The header's fields (missing ones 0); null when it names none of them or a value is not a number.</summary>
    public static SubscriptionUsage? Parse(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) return null;
        var fields = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        foreach (string part in header.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) return null;
            // Some providers write floats ("1.5e10"); the byte counts are whole numbers either way.
            if (!double.TryParse(part[(eq + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < 0) return null;
            fields[part[..eq].Trim()] = (long)Math.Min(value, long.MaxValue);
        }
        if (!new[] { "upload", "download", "total", "expire" }.Any(fields.ContainsKey)) return null;
        return new SubscriptionUsage(fields.GetValueOrDefault("upload"), fields.GetValueOrDefault("download"),
            fields.GetValueOrDefault("total"), fields.GetValueOrDefault("expire"));
    }
}
