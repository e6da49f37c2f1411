using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Control;
using Sluice.Daemon.ExternalUi;

namespace Sluice.Daemon;

/// <summary>
/// The dashboards' maintenance buttons and every path the daemon does not serve:
/// 1. POST /upgrade/ui downloads the dashboard again from external_ui_download_url ({"status": "ok"}, or 500 naming why);
/// 2. POST /upgrade (the core), /upgrade/geo and /configs/geo are 404 with why: Sluice is upgraded by its package,
///    and has no GeoIP/GeoSite databases (rule sets are updated through PUT /providers/rules/{name});
/// 3. any other path no endpoint serves is 404 with Clash's {"message"} body, so a dashboard shows a reason.
/// </summary>
internal static class ClashUpgradeEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor, ExternalUiSource? externalUi, CancellationToken stop)
    {
        app.MapPost("/upgrade/ui", async () =>
        {
            if (externalUi is null) return ClashEndpoints.Message(StatusCodes.Status500InternalServerError, "the daemon serves its built-in dashboard: set experimental.clash_api.external_ui_download_url to download one");
            if (supervisor.Engine is not { } engine || supervisor.Config is not { } config)
                return ClashEndpoints.Message(StatusCodes.Status500InternalServerError, "the engine is not running: the dashboard is downloaded through one of its outbounds");
            return await externalUi.EnsureDownloadedAsync(engine.Outbounds, config.DefaultOutbound, stop, again: true) is { } failed
                ? ClashEndpoints.Message(StatusCodes.Status500InternalServerError, failed)
                : Results.Json(new ClashStatus("ok"), ApiJsonContext.Default.ClashStatus);
        });
        app.MapPost("/upgrade", () => ClashEndpoints.Message(StatusCodes.Status404NotFound,
            "Sluice is not upgraded over the API: install the new release with the system's package manager (or the release archive)"));
        foreach (string path in new[] { "/upgrade/geo", "/configs/geo" })
            app.MapPost(path, () => ClashEndpoints.Message(StatusCodes.Status404NotFound,
                "Sluice has no GeoIP/GeoSite databases to update: its rule sets are updated with PUT /providers/rules/{name}"));
    }

    /// <summary>Middleware: a request no endpoint matched gets 404 with a {"message"} naming it (not an empty body).</summary>
    public static async Task AnswerUnknownPaths(HttpContext context, RequestDelegate next)
    {
        await next(context);
        if (context.Response.StatusCode == StatusCodes.Status404NotFound && !context.Response.HasStarted && context.GetEndpoint() is null)
            await context.Response.WriteAsJsonAsync(new ClashMessage($"no API path {context.Request.Method} {context.Request.Path}"), ApiJsonContext.Default.ClashMessage);
    }
}
