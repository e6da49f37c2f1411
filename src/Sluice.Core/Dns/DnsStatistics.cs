namespace Sluice.Core.Dns;

/// <summary>Counters since the server started; read by tests, benchmarks and status. Lock-free.</summary>
public sealed class DnsStatistics
{
    private readonly string[] _tags;
    private readonly long[] _perServer;
    private long _queries;
    private long _cacheHits;
    private long _upstreamQueries;
    private long _coalesced;
    private long _failures;
    private long _dropped;

    internal DnsStatistics(IReadOnlyList<string> serverTags)
    {
        _tags = serverTags.ToArray();
        _perServer = new long[_tags.Length];
    }

    /// <summary>Messages given to HandleAsync.</summary>
    public long Queries => Volatile.Read(ref _queries);

    /// <summary>Queries answered from the cache.</summary>
    public long CacheHits => Volatile.Read(ref _cacheHits);

    /// <summary>Exchanges started with upstream servers (after coalescing; engine lookups included).</summary>
    public long UpstreamQueries => Volatile.Read(ref _upstreamQueries);

    /// <summary>Queries that joined an exchange already in flight for the same question.</summary>
    public long Coalesced => Volatile.Read(ref _coalesced);

    /// <summary>Upstream exchanges that failed (timeout, network, malformed answer).</summary>
    public long UpstreamFailures => Volatile.Read(ref _failures);

    /// <summary>Messages not answered (not a query, too short, or a drop rule).</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Upstream exchanges per server tag.</summary>
    public IReadOnlyDictionary<string, long> PerServer =>
        _tags.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => Volatile.Read(ref _perServer[x.i]), StringComparer.Ordinal);

    public long UpstreamQueriesTo(string tag)
    {
        int i = Array.IndexOf(_tags, tag);
        return i < 0 ? 0 : Volatile.Read(ref _perServer[i]);
    }

    internal void Query() => Interlocked.Increment(ref _queries);

    internal void CacheHit() => Interlocked.Increment(ref _cacheHits);

    internal void Coalesce() => Interlocked.Increment(ref _coalesced);

    internal void Failure() => Interlocked.Increment(ref _failures);

    internal void Drop() => Interlocked.Increment(ref _dropped);

    internal void Upstream(int server)
    {
        Interlocked.Increment(ref _upstreamQueries);
        Interlocked.Increment(ref _perServer[server]);
    }

    public override string ToString() =>
        $"queries {Queries}, cache hits {CacheHits}, upstream {UpstreamQueries} (failed {UpstreamFailures}), coalesced {Coalesced}, dropped {Dropped}";
}
