using System.Globalization;

namespace Sluice.Core.Configuration;

/// <summary>
/// Go's time.ParseDuration syntax, which sing-box configs use: a sequence of decimal numbers with a
/// unit each ("300ms", "1.5h", "2h45m"); units ns, us (µs), ms, s, m, h, and d (24 h), which sing-box adds to
/// Go's set (its rule sets' update_interval defaults to "1d"). "0" alone is allowed.
/// </summary>
internal static class GoDuration
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        ReadOnlySpan<char> s = text;
        if (s.IsEmpty) return false;
        bool negative = s[0] == '-';
        if (s[0] is '-' or '+') s = s[1..];
        if (s is "0") return true;
        if (s.IsEmpty) return false;
        double ticks = 0;
        while (!s.IsEmpty)
        {
            int n = 0;
            while (n < s.Length && (char.IsAsciiDigit(s[n]) || s[n] == '.')) n++;
            if (n == 0 || !double.TryParse(s[..n], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
                return false;
            s = s[n..];
            int u = 0;
            while (u < s.Length && !char.IsAsciiDigit(s[u]) && s[u] != '.') u++;
            double unitTicks = s[..u] switch
            {
                "ns" => TimeSpan.TicksPerMillisecond / 1_000_000.0,
                "us" or "µs" or "μs" => TimeSpan.TicksPerMillisecond / 1000.0,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "d" => TimeSpan.TicksPerDay,
                _ => -1,
            };
            if (unitTicks < 0) return false;
            ticks += number * unitTicks;
            s = s[u..];
        }
        if (ticks > TimeSpan.MaxValue.Ticks) return false;
        value = TimeSpan.FromTicks((long)ticks);
        if (negative) value = -value;
        return true;
    }

    /// <summary>Formats back in the same syntax ("300ms", "5s", "1m30s") for Describe() and docs.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero) return "0s";
        if (value.Ticks % TimeSpan.TicksPerSecond != 0) return $"{value.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";
        var parts = new System.Text.StringBuilder();
        if ((int)value.TotalHours > 0) parts.Append((int)value.TotalHours).Append('h');
        if (value.Minutes > 0) parts.Append(value.Minutes).Append('m');
        if (value.Seconds > 0) parts.Append(value.Seconds).Append('s');
        return parts.ToString();
    }
}
