using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Control;
using Sluice.Core.RuleSets;
using ClashRuleProvider = Sluice.Control.ClashRuleProvider;

namespace Sluice.Daemon;

/// <summary>
/// The Clash API's rule providers, which are Sluice's route.rule_set entries: GET /providers/rules lists them in
/// mihomo's shape (what the dashboards' rule-provider page reads), PUT /providers/rules/{name} brings one up to date now
/// (a remote set downloaded through its detour, a local file read again; 204, or 502 naming why with the old set kept).
/// </summary>
internal static class ClashRuleProviderEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor)
    {
        app.MapGet("/providers/rules", () =>
            Results.Json(new ClashRuleProviders(Providers(supervisor.Engine?.RuleSets)), ApiJsonContext.Default.ClashRuleProviders));
        app.MapGet("/providers/rules/{name}", (string name) => Providers(supervisor.Engine?.RuleSets).TryGetValue(name, out var provider)
            ? Results.Json(provider, ApiJsonContext.Default.ClashRuleProvider)
            : ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no rule provider \"{name}\" (route.rule_set has no such tag)"));
        app.MapMethods("/providers/rules/{name}", ["PUT"], async (string name, HttpContext context) =>
        {
            if (supervisor.Engine?.RuleSets is not { } sets) return ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no rule provider \"{name}\": the engine is not running");
            try
            {
                return await sets.RefreshAsync(name, context.RequestAborted)
                    ? Results.NoContent()
                    : ClashEndpoints.Message(StatusCodes.Status404NotFound, $"no rule provider \"{name}\" (route.rule_set has no such tag)");
            }
            catch (RuleSetLoadException e)
            {
                return ClashEndpoints.Message(StatusCodes.Status502BadGateway, e.Message);
            }
        });
    }

    private static Dictionary<string, ClashRuleProvider> Providers(RuleSetLibrary? sets)
    {
        var providers = new Dictionary<string, ClashRuleProvider>(StringComparer.Ordinal);
        if (sets is null) return providers;
        foreach (var options in sets.Sets)
        {
            var handle = sets.Handles[options.Tag];
            var (domains, cidrs, others) = handle.Content?.Count() ?? (0, 0, 0);
            var (vehicle, format) = options switch
            {
                RemoteRuleSetOptions remote => ("HTTP", Format(remote.Format)),
                LocalRuleSetOptions local => ("File", Format(local.Format)),
                _ => ("Inline", "inline"),
            };
            string behavior = format switch
            {
                "clash-domain" => "Domain",
                "clash-ipcidr" => "IPCIDR",
                "clash-classical" => "Classical",
                "MrsRule" => cidrs > 0 ? "IPCIDR" : "Domain",
                _ when cidrs == 0 && others == 0 && domains > 0 => "Domain",
                _ when domains == 0 && others == 0 && cidrs > 0 => "IPCIDR",
                _ => "Classical",
            };
            providers[options.Tag] = new ClashRuleProvider(options.Tag, "Rule", vehicle, behavior, format, domains + cidrs + others, handle.LoadedAt);
        }
        return providers;
    }

    /// <summary>mihomo's name for an .mrs provider's format ("MrsRule", what dashboards show); Sluice's word for the others.</summary>
    private static string Format(RuleSetFormat format) => format == RuleSetFormat.Mrs ? "MrsRule" : RuleSetBody.Name(format);
}
