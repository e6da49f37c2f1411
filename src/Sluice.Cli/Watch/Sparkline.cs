namespace Sluice.Cli.Watch;

/// <summary>
/// Renders a series as block characters, scaled to the series' own maximum: an idle interval is '▁', any
/// traffic at least '▂', the peak '█'. Fixed width: older points are cut, missing ones padded with spaces
/// on the left, so columns line up from the first second.
/// </summary>
internal static class Sparkline
{
    private const string Levels = "▂▃▄▅▆▇█";

    public static string Render(IReadOnlyList<long> values, int width)
    {
        var shown = values.Skip(Math.Max(0, values.Count - width)).ToArray();
        long max = shown.Length == 0 ? 0 : shown.Max();
        var chars = shown.Select(v => v <= 0 || max <= 0 ? '▁' : Levels[(int)Math.Min(Levels.Length - 1, Math.Ceiling((double)v / max * Levels.Length) - 1)]);
        return new string(' ', width - shown.Length) + new string(chars.ToArray());
    }
}
