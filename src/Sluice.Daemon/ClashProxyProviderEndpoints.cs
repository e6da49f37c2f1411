using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Control;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;

namespace Sluice.Daemon;

/// <summary>
/// The Clash API's proxy providers, which are Sluice's subscriptions (what the dashboards' provider page shows):
/// 1. GET /providers/proxies[/{name}]: each subscription in mihomo's shape, its servers in /proxies' shape;
/// 2. PUT /providers/proxies/{name}: fetch it now and apply what it lists (204; 502 naming why, the list in use kept);
/// 3. GET /providers/proxies/{name}/healthcheck: every server's delay test at once, kept in their history (204);
/// 4. GET /providers/proxies/{name}/{server}[/healthcheck]: one server, and its delay test ({"delay": ms}).
/// A name the running engine has no subscription for is 404.
/// </summary>
internal static class ClashProxyProviderEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor)
    {
        app.MapGet("/providers/proxies", () =>
            Results.Json(new ClashProviders(Providers(supervisor).ToDictionary(p => p.Name, StringComparer.Ordinal)), ApiJsonContext.Default.ClashProviders));
        app.MapGet("/providers/proxies/{name}", (string name) => Providers(supervisor).FirstOrDefault(p => p.Name == name) is { } provider
            ? Results.Json(provider, ApiJsonContext.Default.ClashProxyProvider)
            : NoSuchProvider(name));
        app.MapPut("/providers/proxies/{name}", async (string name) =>
        {
            if (supervisor.Engine is not { } engine || !engine.Subscriptions.Any(s => s.Tag == name)) return NoSuchProvider(name);
            try
            {
                return await engine.RefreshSubscriptionAsync(name) is { } failed
                    ? ClashEndpoints.Message(StatusCodes.Status502BadGateway, failed)
                    : Results.NoContent();
            }
            catch (OperationCanceledException)
            {
                return ClashEndpoints.Message(StatusCodes.Status409Conflict, "the engine stopped during the update");
            }
        });
        app.MapGet("/providers/proxies/{name}/healthcheck", async (string name, HttpContext context) =>
        {
            if (Servers(supervisor, name) is not { } servers) return NoSuchProvider(name);
            await DelayProbe.MeasureEachAsync(servers, new Uri(DelayProbe.DefaultUrl), DelayProbe.Limit(null), context.RequestAborted);
            return Results.NoContent();
        });
        app.MapGet("/providers/proxies/{name}/{server}", (string name, string server) =>
            Providers(supervisor).FirstOrDefault(p => p.Name == name) is not { } provider ? NoSuchProvider(name)
            : provider.Proxies.FirstOrDefault(p => p.Name == server) is { } proxy ? Results.Json(proxy, ApiJsonContext.Default.ClashProxy)
            : NoSuchServer(name, server));
        app.MapGet("/providers/proxies/{name}/{server}/healthcheck", (string name, string server, string? url, int? timeout, string? expected, HttpContext context) =>
        {
            if (Servers(supervisor, name) is not { } servers) return Task.FromResult(NoSuchProvider(name));
            return servers.FirstOrDefault(o => o.Tag == server) is { } outbound
                ? ClashEndpoints.DelayAnswerAsync(outbound, url, timeout, expected, context.RequestAborted)
                : Task.FromResult(NoSuchServer(name, server));
        });
    }

    private static IResult NoSuchProvider(string name) =>
        ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no proxy provider \"{name}\" (the running config has no subscription of that tag)");

    private static IResult NoSuchServer(string name, string server) =>
        ClashEndpoints.Message(StatusCodes.Status404NotFound, $"proxy provider \"{name}\" has no server \"{server}\"");

    /// <summary>The outbounds subscription <paramref name="name"/> gives its group now; null when there is no such subscription.</summary>
    private static IOutbound[]? Servers(EngineSupervisor supervisor, string name)
    {
        if (supervisor.Engine is not { } engine || engine.Subscriptions.FirstOrDefault(s => s.Tag == name) is not { } subscription) return null;
        var all = EngineViews.WithMembers(engine.Outbounds);
        return subscription.Servers.Select(all.GetValueOrDefault).OfType<IOutbound>().ToArray();
    }

    private static IEnumerable<ClashProxyProvider> Providers(EngineSupervisor supervisor)
    {
        if (supervisor.Engine is not { } engine) return [];
        var proxies = ClashEndpoints.Proxies(supervisor);
        return engine.Subscriptions.Select(s => new ClashProxyProvider(s.Tag, "Proxy", "HTTP",
            s.Servers.Select(proxies.GetValueOrDefault).OfType<ClashProxy>().ToArray(), DelayProbe.DefaultUrl,
            s.UpdatedAt ?? DateTimeOffset.MinValue)
        {
            SubscriptionInfo = s.Usage is { } u ? new ClashSubscriptionInfo(u.Upload, u.Download, u.Total, u.Expire) : null,
        });
    }
}
