using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Control;
using Sluice.Core.Monitoring;

namespace Sluice.Daemon;

/// <summary>
/// The Clash API's rules: GET /rules lists route.rules (then final) with mihomo's index and extra (switch, hit count,
/// last hit) while the engine runs; a rule that is one rule set is type "RuleSet" with the set's tag as payload, so the
/// dashboards join it to /providers/rules. PATCH /rules/disable {"INDEX": true|false, …} switches rules off or on for
/// new flows until the next reload: 204, 400 naming a bad index (nothing changed), 409 with no engine.
/// </summary>
internal static class ClashRuleEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor)
    {
        app.MapGet("/rules", () => Results.Json(new ClashRules(Rules(supervisor)), ApiJsonContext.Default.ClashRules));

        app.MapMethods("/rules/disable", ["PATCH"], async (HttpContext context) =>
        {
            Dictionary<string, bool>? request;
            try
            {
                request = await JsonSerializer.DeserializeAsync(context.Request.Body, ApiJsonContext.Default.DictionaryStringBoolean, context.RequestAborted);
            }
            catch (JsonException e)
            {
                return ClashEndpoints.Message(StatusCodes.Status400BadRequest, $"expected {{\"INDEX\": true|false, …}}: {e.Message}");
            }
            if (supervisor.Engine is not { } engine) return ClashEndpoints.Message(StatusCodes.Status409Conflict, "the engine is not running");
            int count = engine.RuleCount;
            var changes = new List<(int Index, bool Disabled)>();
            foreach (var (key, disabled) in request ?? [])
            {
                if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= count)
                    return ClashEndpoints.Message(StatusCodes.Status400BadRequest, $"no rule {JsonSerializer.Serialize(key, ApiJsonContext.Default.String)}: route.rules has {count} (indexes 0 to {count - 1}; final cannot be switched)");
                changes.Add((index, disabled));
            }
            foreach (var (index, disabled) in changes) engine.SetRuleEnabled(index, !disabled);
            return Results.NoContent();
        });
    }

    private static ClashRule[] Rules(EngineSupervisor supervisor)
    {
        if (supervisor.Config is not { } config) return [];
        var views = EngineViews.Rules(config);
        var states = supervisor.Engine?.RuleStates() ?? [];
        var rules = new ClashRule[views.Count];
        for (int i = 0; i < views.Count; i++)
        {
            var view = views[i];
            // One rule set and nothing else: mihomo's RULE-SET, named by the set's tag.
            var (type, payload) = view.Type == "rule_set" && i < config.Route.Rules.Count && config.Route.Rules[i] is Core.Configuration.DefaultRuleOptions { RuleSet: [var tag] }
                && view.Payload == $"rule_set=[{tag}]"
                ? ("RuleSet", tag)
                : (view.Type, view.Payload);
            rules[i] = new ClashRule(type, payload, view.Target)
            {
                Index = i,
                Extra = i < states.Count ? new ClashRuleExtra(!states[i].Enabled, states[i].Hits, states[i].LastHit) : null,
            };
        }
        return rules;
    }
}
