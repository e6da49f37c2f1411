using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Control;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;

namespace Sluice.Daemon;

/// <summary>
/// The rest of the Clash API that Yacd-meta and metacubexd call (the sing-box flavour):
/// /group (groups only, in /proxies' shape), /group/{name}, /group/{name}/delay (every member probed at once:
/// {"member": ms, …}, failed members left out). Members include the servers subscriptions put into the group.
/// The proxy providers are the subscriptions (ClashProxyProviderEndpoints), the rule providers the rule sets (ClashRuleProviderEndpoints).
/// </summary>
internal static class ClashGroupEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor)
    {
        app.MapGet("/group", () => Results.Json(new ClashGroups(ClashEndpoints.Proxies(supervisor).Values.Where(p => p.All is not null && p.Name != "GLOBAL").ToArray()), ApiJsonContext.Default.ClashGroups));
        app.MapGet("/group/{name}", (string name) => ClashEndpoints.Proxies(supervisor).TryGetValue(name, out var proxy) && proxy.All is not null
            ? Results.Json(proxy, ApiJsonContext.Default.ClashProxy)
            : ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no group \"{name}\""));
        app.MapGet("/group/{name}/delay", async (string name, string? url, int? timeout, string? expected, HttpContext context) =>
        {
            var engine = supervisor.Engine;
            if (engine is null || ClashEndpoints.Outbound(supervisor, name) is not { } outbound || EngineViews.Group(outbound) is not { } group)
                return ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no group \"{name}\"");
            if (DelayProbe.Target(url) is not { } target) return ClashEndpoints.Message(StatusCodes.Status400BadRequest, "url must be an absolute http:// or https:// URL");
            if (!StatusRanges.TryParse(expected, out var statuses)) return ClashEndpoints.BadExpected(expected);
            var all = EngineViews.WithMembers(engine.Outbounds);
            var members = group.Members.Select(m => all.GetValueOrDefault(m.Tag)).OfType<IOutbound>();
            return Results.Json(await DelayProbe.MeasureEachAsync(members, target, DelayProbe.Limit(timeout), context.RequestAborted, statuses), ApiJsonContext.Default.DictionaryStringInt32);
        });
    }
}
