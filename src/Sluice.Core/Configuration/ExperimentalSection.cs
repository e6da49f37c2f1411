using System.Net;
using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>
/// experimental.clash_api as sing-box has it: the daemon's HTTP API address and secret.
/// </summary>
/// <param name="ExternalController">"host:port"; default null = the daemon's own (127.0.0.1:1777).</param>
/// <param name="Secret">Bearer secret; default null = the daemon's secret file. Risk: a short secret on a
/// non-loopback address is guessable, so a non-loopback address requires one.</param>
/// <param name="DefaultMode">Clash mode reported by /configs; default "rule".</param>
public sealed record ClashApiOptions(string? ExternalController, string? Secret, string DefaultMode)
{
    /// <summary>external_ui*, access_control_allow_* (<see cref="ClashDashboardOptions"/>).</summary>
    public ClashDashboardOptions Dashboard { get; init; } = ClashDashboardOptions.None;

    /// <summary>"127.0.0.1:9090", "[::1]:9090", "localhost:9090"; a port is required.</summary>
    public static bool TryParseController(string text, out IPEndPoint? endpoint) => ExperimentalSection.TryParseController(text, out endpoint);
}

/// <summary>The "experimental" section: clash_api and cache_file.</summary>
public sealed record ExperimentalOptions(ClashApiOptions? ClashApi)
{
    public static ExperimentalOptions Empty { get; } = new((ClashApiOptions?)null);

    /// <summary>experimental.cache_file when enabled; null = nothing is kept across restarts (but remote rule sets).</summary>
    public CacheFileOptions? CacheFile { get; init; }
}

/// <summary>"experimental": {"clash_api": {"external_controller", "secret", "default_mode"}} (docs/config.md#experimental).</summary>
internal static class ExperimentalSection
{
    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        if (ObjectReader.Open(element, path, config.Errors) is not { } r) return;
        ClashApiOptions? clash = null;
        if (r.Take("clash_api") is { } api && ObjectReader.Open(api, r.PathOf("clash_api"), config.Errors) is { } c)
        {
            string? controller = c.String("external_controller");
            if (controller is { Length: 0 }) controller = null;
            string? secret = c.String("secret");
            if (secret is { Length: 0 }) secret = null;
            string mode = c.String("default_mode") ?? "rule";
            if (controller is not null)
            {
                if (!TryParseController(controller, out var endpoint))
                    config.Errors.Add(c.PathOf("external_controller"), $"{JsonPath.Quote(controller)} is not host:port with an IP address or localhost (\"127.0.0.1:9090\")");
                else if (!IPAddress.IsLoopback(endpoint!.Address) && secret is null)
                    config.Errors.Add(c.PathOf("secret"), $"required when external_controller ({controller}) is not a loopback address: anyone who reaches it could steer the engine");
            }
            if (secret is { Length: < 8 })
                config.Errors.Add(c.PathOf("secret"), "at least 8 characters (it is the only credential of the HTTP API)");
            var dashboard = ClashDashboardSection.Parse(c);
            // sing-box 1.8 moved these into experimental.cache_file (and later removed them); off, they ask for nothing.
            foreach (string field in ConfigMigrator.LegacyClashApiCacheFields)
                c.RefuseUnlessInert(field, $"moved to experimental.cache_file in sing-box 1.8 ({ConfigMigrator.LegacyCacheFieldTarget(field)}), or run `sluice check --fix -o new.json`");
            c.Finish();
            clash = new ClashApiOptions(controller, secret, mode) { Dashboard = dashboard };
        }
        var cacheFile = CacheFileSection.Parse(r);
        r.Finish(name => name is "v2ray_api" ? "not supported yet" : null);
        config.Experimental = new ExperimentalOptions(clash) { CacheFile = cacheFile };
    }

    /// <summary>"127.0.0.1:9090", "[::1]:9090", "localhost:9090"; a port is required.</summary>
    public static bool TryParseController(string text, out IPEndPoint? endpoint)
    {
        endpoint = null;
        string value = text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) ? "127.0.0.1" + text[9..] : text;
        if (!IPEndPoint.TryParse(value, out var parsed) || parsed.Port == 0) return false;
        // IPEndPoint.TryParse accepts a bare address with port 0; require an explicit port.
        if (!value.Contains(':', StringComparison.Ordinal) || (parsed.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !value.Contains("]:", StringComparison.Ordinal))) return false;
        endpoint = parsed;
        return true;
    }
}
