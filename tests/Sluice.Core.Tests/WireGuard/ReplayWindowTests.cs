using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.WireGuard;

public class ReplayWindowTests
{
    private const ulong Limit = WireGuardLimits.RejectAfterMessages;

    [Fact]
    public void InOrderCounters_AreAccepted_AndDuplicatesRejected()
    {
        var window = new ReplayWindow();
        for (ulong i = 0; i < 20_000; i++) Assert.True(window.TryAccept(i, Limit));
        Assert.False(window.TryAccept(19_999, Limit));
        Assert.False(window.TryAccept(19_000, Limit));
        Assert.False(window.TryAccept(0, Limit));
    }

    [Fact]
    public void OutOfOrderCounters_WithinWindow_AreAcceptedOnce()
    {
        var window = new ReplayWindow();
        Assert.True(window.TryAccept(1000, Limit));
        foreach (ulong c in new ulong[] { 999, 0, 500, 1, 998 }) Assert.True(window.TryAccept(c, Limit));
        foreach (ulong c in new ulong[] { 999, 0, 500, 1, 998, 1000 }) Assert.False(window.TryAccept(c, Limit));
    }

    [Fact]
    public void WindowEdge_Is8128Back()
    {
        Assert.Equal(8128UL, ReplayWindow.WindowSize);
        var window = new ReplayWindow();
        Assert.True(window.TryAccept(20_000, Limit));
        Assert.True(window.TryAccept(20_000 - 8128, Limit));
        Assert.False(window.TryAccept(20_000 - 8129, Limit));
        Assert.False(window.TryAccept(3, Limit));
    }

    [Fact]
    public void FarAheadJump_ClearsTheWindow_AndOldCountersAreRejected()
    {
        var window = new ReplayWindow();
        for (ulong i = 0; i < 100; i++) window.TryAccept(i, Limit);
        Assert.True(window.TryAccept(1UL << 40, Limit));
        Assert.True(window.TryAccept((1UL << 40) - 8128, Limit));
        Assert.True(window.TryAccept((1UL << 40) - 1, Limit));
        Assert.False(window.TryAccept(50, Limit));
        Assert.False(window.TryAccept(1UL << 40, Limit));
        Assert.True(window.TryAccept((1UL << 40) + 64 * 200, Limit));
    }

    [Fact]
    public void CountersAtTheLimit_AreRejected()
    {
        var window = new ReplayWindow();
        Assert.False(window.TryAccept(Limit, Limit));
        Assert.False(window.TryAccept(ulong.MaxValue, Limit));
        Assert.True(window.TryAccept(Limit - 1, Limit));
    }

    [Fact]
    public void RandomTraffic_MatchesReferenceModel()
    {
        // Reference: accept iff below the limit, never seen, and newer than (highest seen − 8128).
        var random = new Random(1234);
        var window = new ReplayWindow();
        var seen = new HashSet<ulong>();
        ulong highest = 0;
        bool any = false;
        ulong next = 0;
        for (int i = 0; i < 200_000; i++)
        {
            ulong counter = random.Next(10) switch
            {
                0 => next + (ulong)random.Next(20_000),           // jump ahead
                1 or 2 => highest - Math.Min(highest, (ulong)random.Next(9_000)), // around the edge
                _ => next - Math.Min(next, (ulong)random.Next(64)), // mostly in order, some reordering
            };
            bool expected = !seen.Contains(counter) && (!any || counter > highest || highest - counter <= 8128);
            Assert.Equal(expected, window.TryAccept(counter, Limit));
            if (expected)
            {
                seen.Add(counter);
                if (!any || counter > highest) highest = counter;
                any = true;
            }
            next = Math.Max(next, counter + 1);
        }
    }
}
