namespace Sluice.Core.Configuration;

/// <summary>
/// The dashboard half of experimental.clash_api (sing-box's fields, docs/config.md#experimental):
/// which web dashboard the API serves at /ui and which other origins may call the API from a browser.
/// </summary>
/// <param name="ExternalUi">A directory served read-only at /ui/ (regular files inside it only); default null = the
/// built-in dashboard at /ui. Honoured only in the config the daemon was started with (-c), never in one sent over the API.</param>
/// <param name="DownloadUrl">A zip of a dashboard fetched once when <paramref name="ExternalUi"/> is missing or empty (or
/// not set), unpacked under the daemon's state dir and served from there; default null = never download.</param>
/// <param name="DownloadDetour">The outbound the zip is fetched through; default null = the route's final outbound.</param>
/// <param name="AllowOrigins">Origins ("http://127.0.0.1:8080") whose web pages may call the API (CORS). In a clash_api
/// section an empty or absent list is "*", sing-box's default (a hosted dashboard calling 127.0.0.1:9090 works): every
/// page may call, and the bearer secret (always set: the config's, at least 8 characters, or the generated one) still
/// guards every call. <see cref="None"/> (a daemon API without clash_api) allows only the API's own origin.</param>
/// <param name="AllowPrivateNetwork">Answer Chromium's Private Network Access preflight for the allowed origins
/// (a public page calling a private address); default false.</param>
public sealed record ClashDashboardOptions(
    string? ExternalUi,
    string? DownloadUrl,
    string? DownloadDetour,
    IReadOnlyList<string> AllowOrigins,
    bool AllowPrivateNetwork)
{
    public static ClashDashboardOptions None { get; } = new(null, null, null, [], false);

    /// <summary>The config names files to serve or fetch: only the daemon's own -c config may.</summary>
    public bool ChoosesFiles => ExternalUi is not null || DownloadUrl is not null;

    public bool AllowsAnyOrigin => AllowOrigins.Contains("*");
}

/// <summary>Reads the dashboard fields of one experimental.clash_api object.</summary>
internal static class ClashDashboardSection
{
    public static ClashDashboardOptions Parse(ObjectReader c)
    {
        string? ui = NonEmpty(c.String("external_ui"));
        string? url = NonEmpty(c.String("external_ui_download_url"));
        string? detour = NonEmpty(c.String("external_ui_download_detour"));
        if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https")))
            c.Errors.Add(c.PathOf("external_ui_download_url"), $"{JsonPath.Quote(url)} is not an absolute http:// or https:// URL");
        // A detour without a download URL asks for nothing (exported configs carry "direct" there): accepted, unused.

        var origins = c.List("access_control_allow_origin", OriginItem);
        if (origins.Count == 0) origins = ["*"];
        bool privateNetwork = c.Bool("access_control_allow_private_network", false);
        return new ClashDashboardOptions(ui, url, detour, origins, privateNetwork);
    }

    private static Optional<string> OriginItem(System.Text.Json.JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } item) return default;
        string origin = item.Value.TrimEnd('/');
        if (origin == "*" || IsOrigin(origin)) return origin;
        errors.Add(path, $"{JsonPath.Quote(item.Value)} is not an origin: scheme://host[:port] without a path (\"http://127.0.0.1:8080\"), or \"*\" for every page");
        return default;
    }

    /// <summary>An origin as browsers send it: scheme, host and an optional port; nothing else.</summary>
    private static bool IsOrigin(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri)
        && uri.Scheme is "http" or "https"
        && uri.AbsolutePath == "/" && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0
        && !text.EndsWith('/') && uri.Host.Length > 0;

    private static string? NonEmpty(string? value) => value is { Length: > 0 } ? value : null;
}
