namespace Sluice.Control;

/// <summary>
/// What `sluice status`, bare `sluice` and the dashboard say when the gate holds and no engine runs: the
/// protected apps are cut off, which of them are running, and the three ways out (docs/gate.md).
/// </summary>
public static class BlockedBanner
{
    public const string Headline = "INTERNET BLOCKED for protected apps — the kill switch is on";

    /// <summary>The three ways out, each with what it does.</summary>
    public static readonly (string Command, string Effect)[] Recovery =
    [
        ("sluice up", "bring the tunnel back; protected apps reach the network through it"),
        ("sluice kill-apps", "end the protected apps (as root)"),
        ("sluice gate disable", "open the gate; protected traffic leaves outside the tunnel (as root)"),
    ];

    /// <summary>True when the engine does not carry traffic but a gate is loaded.</summary>
    public static bool Applies(string state, string? gate) => gate is not null && state != EngineStates.Connected;

    public static IReadOnlyList<string> Lines(string engine, string gate, IReadOnlyList<string> heldApps)
    {
        var lines = new List<string>
        {
            Headline,
            $"  engine: {engine}",
            $"  gate:   {gate}",
            heldApps.Count == 0 ? "  held:   no protected app is running now" : $"  held:   {string.Join(", ", heldApps)}",
            "  to get out:",
        };
        int width = Recovery.Max(r => r.Command.Length);
        lines.AddRange(Recovery.Select(r => $"    {r.Command.PadRight(width)}  {r.Effect}"));
        return lines;
    }
}
