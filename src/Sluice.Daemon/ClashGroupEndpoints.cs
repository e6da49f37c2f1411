using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Control;
using Sluice.Core.Monitoring;

namespace Sluice.Daemon;

/// <summary>
/// The rest of the Clash API that Yacd-meta and metacubexd call (the sing-box flavour):
/// /group (groups only, in /proxies' shape), /group/{name}, /group/{name}/delay (every member probed at once:
/// {"member": ms, …}, failed members left out), and the proxy providers, which are empty: Sluice has no Clash
/// proxy providers (subscriptions are outbound groups and show under /proxies); /providers/proxies/{name} is 404.
/// The rule providers are the rule sets (ClashRuleProviderEndpoints).
/// </summary>
internal static class ClashGroupEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor)
    {
        app.MapGet("/group", () => Results.Json(new ClashGroups(ClashEndpoints.Proxies(supervisor).Values.Where(p => p.All is not null && p.Name != "GLOBAL").ToArray()), ApiJsonContext.Default.ClashGroups));
        app.MapGet("/group/{name}", (string name) => ClashEndpoints.Proxies(supervisor).TryGetValue(name, out var proxy) && proxy.All is not null
            ? Results.Json(proxy, ApiJsonContext.Default.ClashProxy)
            : ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no group \"{name}\""));
        app.MapGet("/group/{name}/delay", async (string name, string? url, int? timeout, HttpContext context) =>
        {
            var engine = supervisor.Engine;
            if (engine is null || !engine.Outbounds.TryGetValue(name, out var outbound) || EngineViews.Group(outbound) is not { } group)
                return ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no group \"{name}\"");
            if (!Uri.TryCreate(url ?? DelayProbe.DefaultUrl, UriKind.Absolute, out var target) || target.Scheme is not ("http" or "https"))
                return ClashEndpoints.Message(StatusCodes.Status400BadRequest, "url must be an absolute http:// or https:// URL");
            var limit = TimeSpan.FromMilliseconds(Math.Clamp(timeout ?? 5000, 100, 30_000));
            var probes = group.Members
                .Where(m => engine.Outbounds.ContainsKey(m.Tag))
                .Select(async m => (m.Tag, Result: await DelayProbe.MeasureAsync(engine.Outbounds[m.Tag], target, limit, context.RequestAborted)))
                .ToArray();
            var delays = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (tag, result) in await Task.WhenAll(probes))
            {
                if (result.Delay is not { } delay) continue;
                DelayHistory.Record(tag, delay);
                delays[tag] = delay;
            }
            return Results.Json(delays, ApiJsonContext.Default.DictionaryStringInt32);
        });

        app.MapGet("/providers/proxies", () => Results.Json(new ClashProviders(new Dictionary<string, string>()), ApiJsonContext.Default.ClashProviders));
        app.MapGet("/providers/proxies/{name}", (string name) => ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no proxy provider \"{name}\": Sluice's subscriptions are outbound groups (see /proxies)"));
        app.MapMethods("/providers/proxies/{name}", ["PUT"], (string name) => ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no proxy provider \"{name}\""));
        app.MapGet("/providers/proxies/{name}/healthcheck", (string name) => ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no proxy provider \"{name}\""));
    }
}
