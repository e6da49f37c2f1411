namespace Sluice.Core.Stack;

/// <summary>The data path's time in milliseconds, from the engine's <see cref="TimeProvider"/> (so a test's fake clock drives every timeout).</summary>
internal static class MonotonicClock
{
    /// <summary>Monotonic milliseconds (a millisecond tick count), from <paramref name="time"/>'s timestamp.</summary>
    public static long Milliseconds(this TimeProvider time) => time.Milliseconds(time.GetTimestamp());

    /// <summary>The same of a timestamp already read from <paramref name="time"/> (a path that also needs the timestamp reads the clock once).</summary>
    public static long Milliseconds(this TimeProvider time, long timestamp) => timestamp / (time.TimestampFrequency / 1000);
}
