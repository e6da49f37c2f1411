namespace Sluice.Core.Monitoring;

/// <summary>
/// Gives the memory of a burst of flows back once the burst has ended, so the engine's peak is its idle size plus the
/// largest burst, not the sum of every burst so far (an embedded engine has a budget: iOS ends a packet tunnel above
/// 50 MiB). Why it is needed: a closed flow's state (its sockets' async machinery, NAT entry, tracked connection:
/// 5–9 KB) has been promoted by the time the flow ends and waits for a full collection that a quiet engine may not
/// run for a long time, and the GC keeps the regions a burst made it commit; bench/memory.sh measured 1,000 closed
/// direct flows still resident (+6 MiB of GC heap) under the 1,000 Shadowsocks flows that followed.
/// 1. Each closed flow updates the live count's high-water mark.
/// 2. Once at least <see cref="EngineLimits.TrimAfterClosedFlows"/> flows have closed since that mark and at most half
///    of it are still live, a trim is due <see cref="EngineLimits.TrimDelay"/> later (a burst closes over a few
///    hundred milliseconds; the delay lets it finish and bounds trims to one per delay).
/// 3. The trim, if the count is still that low: the pools give up what they keep (the relays' small buffers), then one
///    compacting full collection that returns the freed regions to the
///    OS (<see cref="GCCollectionMode.Aggressive"/>), then the platform's native trim (glibc's free lists: OpenSSL's
///    per-flow cipher contexts). The mark restarts from the live count.
/// An ordinary churn of flows (a browser's: tens live, closing and opening) never closes 256 below its own mark, so it
/// never trims; a full collection of a ~20 MiB heap blocks the engine for a few milliseconds.
/// A burst of DNS queries is the other kind (a flood of random names: no flow is tracked for it, but each query that
/// waited for an upstream left a socket's, an exchange's and an answer's garbage, promoted while it waited): once
/// <see cref="EngineLimits.TrimAfterDnsQueries"/> such queries have finished since the last trim and none is waiting,
/// a trim is due the same way (<see cref="OnWaitingQueryFinished"/>). Without it the soak's junk-DNS floods left the heap
/// after a full collection ~15 MiB larger each (background collections do not compact), and the RSS with it.
/// The start is the first burst (<see cref="AfterStart"/>): one trim runs a delay after it, so the start-up's garbage and
/// the pages of code used only to start (Linux: the mapped file pages the native trim unmaps) are not part of idle. When
/// traffic has already opened a burst of flows by then (at least <see cref="EngineLimits.TrimAfterClosedFlows"/> live: an
/// embedded engine whose host sends the queued traffic at once), only the native trim runs then; the collection waits
/// for that burst's end, as any burst's does.
/// </summary>
internal sealed class MemoryTrimmer : IDisposable
{
    private readonly ConnectionRegistry _connections;
    private readonly int _minimumClosed;
    private readonly int _minimumDnsQueries;
    private readonly TimeSpan _delay;
    private readonly Action _collect;
    private readonly Action? _trimNative;
    private readonly Action? _releasePools;
    private readonly ITimer _timer;
    private int _highWater;
    private int _armed;
    private int _trims;
    private int _dnsFinished;
    private int _dnsWaiting;
    private int _startPending;

    /// <param name="trimNative">Returns freed native memory to the OS (Linux: malloc_trim); null where there is none.</param>
    /// <param name="collect">The collection; default a compacting full GC that decommits what it frees (tests count calls).</param>
    /// <param name="releasePools">Empties the engine's own buffer pools before the collection (<see cref="Stack.RelayBuffers.Trim"/>).</param>
    public MemoryTrimmer(ConnectionRegistry connections, EngineLimits limits, TimeProvider time, Action? trimNative = null, Action? collect = null,
        Action? releasePools = null)
    {
        _releasePools = releasePools;
        _connections = connections;
        _minimumClosed = limits.TrimAfterClosedFlows;
        _minimumDnsQueries = limits.TrimAfterDnsQueries;
        _delay = limits.TrimDelay;
        _trimNative = trimNative;
        _collect = collect ?? (static () => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true));
        _timer = time.CreateTimer(static state => ((MemoryTrimmer)state!).Trim(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (_minimumClosed > 0) connections.Removed += OnRemoved;
    }

    /// <summary>Trims run so far.</summary>
    public int Trims => Volatile.Read(ref _trims);

    private void OnRemoved(TrackedConnection _)
    {
        int live = _connections.Count;
        int mark = Volatile.Read(ref _highWater);
        while (live + 1 > mark)
        {
            int seen = Interlocked.CompareExchange(ref _highWater, live + 1, mark);
            if (seen == mark) { mark = live + 1; break; }
            mark = seen;
        }
        if (!Due(live, mark)) return;
        Arm();
    }

    /// <summary>
    /// The engine has started: the native trim runs now (the start-up code's pages go before traffic can ramp on top of
    /// them; a millisecond, no collection) and a full trim <see cref="EngineLimits.TrimDelay"/> later (none with the limit at 0).
    /// </summary>
    public void AfterStart()
    {
        if (_minimumClosed <= 0) return;
        _trimNative?.Invoke();
        Volatile.Write(ref _startPending, 1);
        Arm();
    }

    /// <summary>
    /// A hijacked DNS query that waited for an upstream has been answered (or given up); <paramref name="stillWaiting"/>
    /// others wait now. Arms a trim once enough have finished since the last one and none waits.
    /// </summary>
    public void OnWaitingQueryFinished(int stillWaiting)
    {
        if (_minimumDnsQueries <= 0) return;
        Volatile.Write(ref _dnsWaiting, stillWaiting);
        int finished = Interlocked.Increment(ref _dnsFinished);
        if (finished >= _minimumDnsQueries && stillWaiting == 0) Arm();
    }

    private void Arm()
    {
        if (Interlocked.Exchange(ref _armed, 1) == 1) return;
        _timer.Change(_delay, Timeout.InfiniteTimeSpan);
    }

    private bool Due(int live, int mark) => mark - live >= _minimumClosed && live <= mark / 2;

    private bool DnsDue() =>
        _minimumDnsQueries > 0 && Volatile.Read(ref _dnsFinished) >= _minimumDnsQueries && Volatile.Read(ref _dnsWaiting) == 0;

    private void Trim()
    {
        int live = _connections.Count;
        bool start = Interlocked.Exchange(ref _startPending, 0) == 1;
        // Still due when the timer fires: a new burst (flows live again, queries waiting again) puts it off to its own end.
        if (start && live >= _minimumClosed)
        {
            // A burst of flows began before the start trim was due: a compacting collection now would copy the burst's
            // live state while it ramps (measured: +8 MiB of GC heap for a moment at 1,000 new Shadowsocks streams, the
            // engine's peak). Only the native trim runs (the start-up code's pages, no pause); the burst's end trims in full.
            _trimNative?.Invoke();
        }
        else if (start || (_minimumClosed > 0 && Due(live, Volatile.Read(ref _highWater))) || DnsDue())
        {
            _releasePools?.Invoke();
            _collect();
            _trimNative?.Invoke();
            Interlocked.Increment(ref _trims);
            Volatile.Write(ref _highWater, _connections.Count);
            Volatile.Write(ref _dnsFinished, 0);
        }
        Volatile.Write(ref _armed, 0);
    }

    public void Dispose()
    {
        _connections.Removed -= OnRemoved;
        _timer.Dispose();
    }
}
