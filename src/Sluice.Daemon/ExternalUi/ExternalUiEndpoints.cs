using Sluice.Control;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;

namespace Sluice.Daemon.ExternalUi;

/// <summary>
/// GET /ui/… from an external dashboard (external_ui / external_ui_download_url), read-only, from the API's own
/// origin, so the dashboard's calls to the API are same-origin. /ui redirects to /ui/ (keeping the query, which
/// carries Yacd's hostname/port/secret) so the page's relative asset paths resolve under /ui/.
/// The built-in dashboard stays reachable at /dashboard.
/// </summary>
internal static class ExternalUiEndpoints
{
    private static readonly FileExtensionContentTypeProvider Types = CreateTypes();

    public static void Map(IEndpointRouteBuilder app, ExternalUiSource source)
    {
        // Routing lets "/ui" match "/ui/" too: only the bare path redirects.
        app.MapGet("/ui", (HttpContext context) => context.Request.Path.Value == "/ui"
            ? Results.Redirect("/ui/" + context.Request.QueryString.Value)
            : Serve(context, source));
        app.MapMethods("/ui/{**path}", ["GET", "HEAD"], (HttpContext context) => Serve(context, source));
    }

    private static IResult Serve(HttpContext context, ExternalUiSource source)
    {
        if (source.Directory is not { } directory)
            return Results.Json(new ClashMessage(source.Pending ?? "no dashboard"), ApiJsonContext.Default.ClashMessage, statusCode: StatusCodes.Status503ServiceUnavailable);
        // Request.Path is percent-decoded (except %2F, which stays encoded and so never splits a segment).
        string relative = (context.Request.Path.Value ?? "/ui/")["/ui/".Length..];
        var file = directory.OpenFile(relative, out string? refusal);
        if (file is null) return Results.Json(new ClashMessage($"/ui/{relative}: {refusal}"), ApiJsonContext.Default.ClashMessage, statusCode: StatusCodes.Status404NotFound);
        string name = relative.Length == 0 || relative.EndsWith('/') ? "index.html" : relative;
        if (!Types.TryGetContentType(name, out string? type)) type = "application/octet-stream";
        var headers = context.Response.Headers;
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        return Results.Stream(file, type);
    }

    private static FileExtensionContentTypeProvider CreateTypes()
    {
        var types = new FileExtensionContentTypeProvider();
        types.Mappings[".webmanifest"] = "application/manifest+json";
        types.Mappings[".mjs"] = "text/javascript";
        types.Mappings[".js"] = "text/javascript";
        return types;
    }
}
