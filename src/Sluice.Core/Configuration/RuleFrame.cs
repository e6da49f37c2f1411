using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>
/// What route rules and DNS rules share (sing-box gives both the same frame): a "type" of "default"
/// (matchers) or "logical" ("mode" and "rules", nested rules without an action), "invert", and
/// action fields allowed only on top-level rules. Each caller brings its own matchers and actions.
/// </summary>
internal static class RuleFrame
{
    /// <summary>The parts of one kind of rule: how to read its matchers and its action, and how to put a rule together.</summary>
    /// <param name="Default">Reads the matchers of a "default" rule.</param>
    /// <param name="Logical">Builds a "logical" rule from its mode and its parsed sub-rules.</param>
    /// <param name="Action">Reads the action of a top-level rule.</param>
    /// <param name="Complete">The rule with its "invert" and action set.</param>
    /// <param name="ActionFields">Fields that belong to an action (refused inside a logical rule).</param>
    /// <param name="Unsupported">sing-box fields Sluice does not implement yet (refused with that reason).</param>
    public sealed record Kind<TRule, TAction>(
        Func<ObjectReader, TRule?> Default,
        Func<LogicalMode, List<TRule>, TRule> Logical,
        Func<ObjectReader, TAction?> Action,
        Func<TRule, bool, TAction?, TRule> Complete,
        string[] ActionFields,
        HashSet<string> Unsupported)
        where TRule : class
        where TAction : class
    {
        /// <summary>A message for an unsupported field that says more than "not supported" (what replaced it), or null.</summary>
        public Func<string, string?>? Explain { get; init; }
    }

    /// <summary>One rule at <paramref name="path"/>; null when it has errors (all of them reported, with their paths).</summary>
    public static TRule? Parse<TRule, TAction>(JsonElement element, string path, ErrorList errors, bool topLevel, Kind<TRule, TAction> kind)
        where TRule : class
        where TAction : class
    {
        if (ObjectReader.Open(element, path, errors) is not { } r) return null;
        int before = errors.Count;
        string type = r.String("type") ?? "default";
        TRule? rule = type switch
        {
            "default" => kind.Default(r),
            "logical" => ParseLogical(r, kind),
            _ => null,
        };
        if (type is not ("default" or "logical"))
            errors.Add(r.PathOf("type"), $"unknown rule type {JsonPath.Quote(type)} (expected \"default\" or \"logical\")");
        bool invert = r.Bool("invert", false);
        TAction? action = null;
        if (topLevel)
        {
            action = kind.Action(r);
        }
        else
        {
            foreach (string field in kind.ActionFields)
            {
                if (r.Take(field) is not null)
                    errors.Add(r.PathOf(field), "rules inside a logical rule have no action; put it on the logical rule");
            }
        }
        r.Finish(f => kind.Unsupported.Contains(f) ? kind.Explain?.Invoke(f) ?? "not supported by Sluice yet" : null);
        if (rule is null || errors.Count > before) return null;
        return kind.Complete(rule, invert, action);
    }

    private static TRule? ParseLogical<TRule, TAction>(ObjectReader r, Kind<TRule, TAction> kind)
        where TRule : class
        where TAction : class
    {
        var errors = r.Errors;
        string? modeText = r.String("mode");
        LogicalMode? mode = modeText switch { "and" => LogicalMode.And, "or" => LogicalMode.Or, _ => null };
        if (modeText is null && !r.Has("mode")) errors.Add(r.PathOf("mode"), "required for a logical rule: \"and\" or \"or\"");
        else if (modeText is not null && mode is null) errors.Add(r.PathOf("mode"), $"unknown mode {JsonPath.Quote(modeText)} (expected \"and\" or \"or\")");

        var rules = new List<TRule>();
        string rulesPath = r.PathOf("rules");
        if (r.Take("rules") is not { } rulesElement)
        {
            errors.Add(rulesPath, "required for a logical rule: a non-empty array of rules");
        }
        else if (rulesElement.ValueKind != JsonValueKind.Array)
        {
            ObjectReader.TypeError(rulesPath, "an array", rulesElement, errors);
        }
        else
        {
            int i = 0;
            foreach (var item in rulesElement.EnumerateArray())
            {
                if (Parse(item, JsonPath.Index(rulesPath, i++), errors, topLevel: false, kind) is { } sub) rules.Add(sub);
            }
            if (i == 0) errors.Add(rulesPath, "must not be empty");
        }
        return mode is { } m ? kind.Logical(m, rules) : null;
    }
}
