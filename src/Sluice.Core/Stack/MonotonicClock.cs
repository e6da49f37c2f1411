namespace Sluice.Core.Stack;

/// <summary>The data path's time in milliseconds, from the engine's <see cref="TimeProvider"/> (so a test's fake clock drives every timeout).</summary>
internal static class MonotonicClock
{
    /// <summary>Monotonic milliseconds (a millisecond tick count), from <paramref name="time"/>'s timestamp.</summary>
    public static long Milliseconds(this TimeProvider time) => time.GetTimestamp() / (time.TimestampFrequency / 1000);
}
