
namespace Sluice.Core.Configuration;

/// <summary>experimental.cache_file (docs/config.md#cache-file): what the engine keeps across restarts.</summary>
/// <param name="Path">The file; default /var/lib/sluice/cache.json (SLUICE_STATE_DIR). Relative paths are from the working directory.</param>
/// <param name="CacheId">Keeps this config's state apart from other configs sharing the file; default "".</param>
/// <param name="StoreFakeIp">Fake addresses keep their names across restarts; default false.</param>
public sealed record CacheFileOptions(string Path, string CacheId, bool StoreFakeIp)
{
    /// <summary>
    /// store_rdrc was set: accepted with a notice and nothing stored. sing-box keeps the verdicts of its
    /// address-filter DNS rules there; Sluice's DNS rules never filter answers by address (a set's ip_cidr
    /// never matches a query), so there is no verdict to keep and every answer is the same as without it.
    /// </summary>
    public bool StoreRdrcIgnored { get; init; }

    public static string DefaultPath => System.IO.Path.Combine(ConfigDefaults.StateDirectory, "cache.json");
}

internal static class CacheFileSection
{
    public static CacheFileOptions? Parse(ObjectReader experimental)
    {
        if (experimental.Take("cache_file") is not { } element) return null;
        if (ObjectReader.Open(element, experimental.PathOf("cache_file"), experimental.Errors) is not { } r) return null;
        bool enabled = r.Bool("enabled", false);
        string? path = r.String("path");
        string id = r.String("cache_id") ?? "";
        bool fakeIp = r.Bool("store_fakeip", false);
        bool rdrc = r.Bool("store_rdrc", false);
        r.Duration("rdrc_timeout");
        if (path is { Length: 0 }) r.Errors.Add(r.PathOf("path"), "must not be empty (leave it out for the default, " + CacheFileOptions.DefaultPath + ")");
        r.Finish();
        return enabled ? new CacheFileOptions(string.IsNullOrEmpty(path) ? CacheFileOptions.DefaultPath : path, id, fakeIp) { StoreRdrcIgnored = rdrc } : null;
    }
}
