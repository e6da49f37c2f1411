using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Sluice.Daemon;

/// <summary>
/// GET /dashboard (and /ui when no external_ui is configured): one self-contained page (HTML, CSS, JS inline; no external assets). It holds no data itself:
/// the page reads the secret from its URL fragment (#token=…, never sent to the server) or asks for it, then
/// calls the API with the bearer header. CSP keeps it to its own origin; it may not be framed.
/// </summary>
internal static class Dashboard
{
    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("dashboard.html")!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>Always at /dashboard; also at /ui unless an external dashboard (external_ui) takes /ui.</summary>
    public static void Map(IEndpointRouteBuilder app, bool atUi = true)
    {
        app.MapGet("/dashboard", Serve);
        if (atUi) app.MapGet("/ui", Serve);
    }

    private static IResult Serve(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        return Results.Bytes(Page.Value, "text/html; charset=utf-8");
    }
}
