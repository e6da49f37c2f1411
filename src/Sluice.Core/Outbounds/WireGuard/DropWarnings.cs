using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sluice.Core.Stack;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// An endpoint's warnings about what it dropped or could not send, at most one line per 5 s per category, so a
/// garbage flood cannot flood the log: a <see cref="DropNote"/>'s category is its kind (nothing is formatted unless
/// logged); other messages' category is the text without its variable parts (sender, sizes, counters, keys), so junk
/// from spoofed senders is one line per 5 s, not one per sender.
/// </summary>
internal sealed partial class DropWarnings(ILogger logger, string tag, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, long> _last = new();

    public void Warn(string? reason)
    {
        if (reason is null || !MayWarn(CategoryOf(reason))) return;
        LogDropped(logger, tag, reason);
    }

    public void Warn(in WgResult dropped)
    {
        if (dropped.NoteCategory is not { } category) Warn(dropped.Reason);
        else if (MayWarn(category)) LogDropped(logger, tag, dropped.Reason!);
    }

    /// <summary>The message with every token that carries a digit, and every long token (keys), as "#".</summary>
    internal static string CategoryOf(string reason) => VariablePart().Replace(reason, "#");

    private bool MayWarn(string category)
    {
        long now = time.Milliseconds();
        if (_last.TryGetValue(category, out long last) && now - last < 5000) return false;
        if (_last.Count > 256) _last.Clear();
        _last[category] = now;
        return true;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"[^\s(),]*\d[^\s(),]*|[A-Za-z0-9+/=]{40,}")]
    private static partial System.Text.RegularExpressions.Regex VariablePart();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Tag}: {Reason}")]
    private static partial void LogDropped(ILogger logger, string tag, string reason);
}
