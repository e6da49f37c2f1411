namespace Sluice.Core.Monitoring;

/// <summary>A fixed-capacity ring of values, oldest first when read; the oldest is overwritten when full.</summary>
public sealed class RingBuffer<T>(int capacity)
{
    private readonly T[] _items = new T[capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity))];
    private int _start;

    public int Count { get; private set; }

    public int Capacity => _items.Length;

    public void Add(T item)
    {
        if (Count < _items.Length)
        {
            _items[(_start + Count) % _items.Length] = item;
            Count++;
        }
        else
        {
            _items[_start] = item;
            _start = (_start + 1) % _items.Length;
        }
    }

    public T[] ToArray()
    {
        var result = new T[Count];
        for (int i = 0; i < Count; i++) result[i] = _items[(_start + i) % _items.Length];
        return result;
    }
}

/// <summary>
/// Speed over three time scales, each in its own ring buffer (one buffer with downsampling either loses
/// detail at short ranges or reach at long ones):
/// 1. "4m": 80 points of 3 s — what is happening now;
/// 2. "1h": 80 points of 45 s — the last hour;
/// 3. "session": 1 h points for up to a week — since the engine came up.
/// Feed cumulative byte counters with <see cref="Record"/>; each tier closes its interval when the clock
/// passes it and stores the interval's average rate. The interval in progress is reported as the last
/// point so a sparkline moves before its first interval closes.
/// </summary>
public sealed class SpeedHistory
{
    public static readonly (string Name, TimeSpan Interval, int Capacity)[] Tiers =
    [
        ("4m", TimeSpan.FromSeconds(3), 80),
        ("1h", TimeSpan.FromSeconds(45), 80),
        ("session", TimeSpan.FromHours(1), 168),
    ];

    private readonly Tier[] _tiers;
    private readonly object _lock = new();

    public SpeedHistory(DateTimeOffset start)
    {
        _tiers = Tiers.Select(t => new Tier(t.Name, t.Interval, t.Capacity, start)).ToArray();
    }

    /// <summary>Cumulative bytes (upload, download) as of <paramref name="now"/>; never decreasing.</summary>
    public void Record(DateTimeOffset now, long upload, long download)
    {
        lock (_lock)
            foreach (var tier in _tiers) tier.Record(now, upload, download);
    }

    /// <summary>Each tier's points, oldest first, the interval in progress last.</summary>
    public IReadOnlyList<TierSnapshot> Snapshot(DateTimeOffset now)
    {
        lock (_lock) return _tiers.Select(t => t.Snapshot(now)).ToArray();
    }

    public sealed record TierSnapshot(string Name, TimeSpan Interval, int Capacity, long[] Up, long[] Down);

    private sealed class Tier(string name, TimeSpan interval, int capacity, DateTimeOffset start)
    {
        private readonly RingBuffer<(long Up, long Down)> _points = new(capacity);
        private DateTimeOffset _intervalStart = start;
        private (long Up, long Down) _atStart;
        private (long Up, long Down) _last;

        public void Record(DateTimeOffset now, long up, long down)
        {
            // Close every interval the clock has passed; intervals with no samples are idle (0).
            while (now - _intervalStart >= interval)
            {
                var end = _intervalStart + interval;
                double seconds = interval.TotalSeconds;
                _points.Add(((long)((_last.Up - _atStart.Up) / seconds), (long)((_last.Down - _atStart.Down) / seconds)));
                _atStart = _last;
                _intervalStart = end;
            }
            _last = (up, down);
        }

        public TierSnapshot Snapshot(DateTimeOffset now)
        {
            var closed = _points.ToArray();
            double elapsed = Math.Max(1, (now - _intervalStart).TotalSeconds);
            var partial = ((long)((_last.Up - _atStart.Up) / elapsed), (long)((_last.Down - _atStart.Down) / elapsed));
            var all = closed.Length >= capacity ? closed.Skip(1).Append(partial) : closed.Append(partial);
            var points = all.ToArray();
            return new TierSnapshot(name, interval, capacity, points.Select(p => p.Item1).ToArray(), points.Select(p => p.Item2).ToArray());
        }
    }
}
