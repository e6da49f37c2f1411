namespace Sluice.Core.Routing;

/// <summary>
/// The Clash mode ("rule", "global", "direct", or any mode the rules name) that clash_mode items match.
/// One per engine; switching it (Clash API, core API, `sluice mode`) applies to the next flow and the
/// next DNS query at once: rules read <see cref="Current"/> when they are evaluated.
/// </summary>
public sealed class ClashModeState(string initial)
{
    private volatile string _current = initial;

    public string Current => _current;

    /// <summary>Raised after a switch, with the new mode (persisted by the cache file).</summary>
    public event Action<string>? Changed;

    /// <summary>The modes a client may pick: the default, the three Clash ones, and every clash_mode value in the rules.</summary>
    public IReadOnlyList<string> Known { get; init; } = ["rule", "global", "direct"];

    /// <summary>Switches to <paramref name="mode"/> spelled as it is known (case-insensitive); false when no rule or default names it.</summary>
    public bool TrySet(string mode)
    {
        string? known = Known.FirstOrDefault(k => string.Equals(k, mode, StringComparison.OrdinalIgnoreCase));
        if (known is null) return false;
        _current = known;
        Changed?.Invoke(known);
        return true;
    }

    public bool Is(string mode) => string.Equals(_current, mode, StringComparison.OrdinalIgnoreCase);
}

/// <summary>What compiled rules refer to beyond their own values: rule sets by tag, and the Clash mode.</summary>
public sealed record RuleScope(IReadOnlyDictionary<string, RuleSets.RuleSetHandle> RuleSets, ClashModeState Mode)
{
    public static RuleScope Empty { get; } = new(new Dictionary<string, RuleSets.RuleSetHandle>(), new ClashModeState("rule"));

    internal RuleSets.RuleSetHandle[] Resolve(IReadOnlyList<string> tags) =>
        tags.Select(t => RuleSets.TryGetValue(t, out var h) ? h : throw new ArgumentException($"no rule set has tag \"{t}\"", nameof(tags))).ToArray();
}
