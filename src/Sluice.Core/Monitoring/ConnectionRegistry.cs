using System.Collections.Concurrent;
using Sluice.Core.Flows;
using Sluice.Packets;

namespace Sluice.Core.Monitoring;

/// <summary>
/// One live flow as people see it: who (process), where (destination, domain), which lane, how much.
/// Byte counters are updated by the data path with Interlocked adds; readers take snapshots.
/// </summary>
public sealed class TrackedConnection
{
    private long _upload;
    private long _download;
    private Action? _close;

    internal TrackedConnection(long id, FlowKey key, string inbound, string? domain, ProcessInfo? process, string lane, string rule, DateTimeOffset start, Action? close, FlowKey? socketKey = null)
    {
        Id = id;
        Key = key;
        SocketKey = socketKey ?? key;
        Inbound = inbound;
        Domain = domain;
        Process = process;
        Lane = lane;
        Rule = rule;
        Start = start;
        _close = close;
    }

    public long Id { get; }

    public FlowKey Key { get; }

    /// <summary>The app's own socket, for the late process lookup (differs from <see cref="Key"/> for proxy inbounds).</summary>
    public FlowKey SocketKey { get; }

    /// <summary>"tcp", "udp" or "icmp".</summary>
    public string Network => Key.Protocol switch { IpProtocol.Tcp => "tcp", IpProtocol.Udp => "udp", _ => "icmp" };

    public string Inbound { get; }

    public string? Domain { get; }

    public ProcessInfo? Process { get; }

    /// <summary>The outbound or endpoint tag carrying the flow.</summary>
    public string Lane { get; }

    /// <summary>Clash's "chains": the outbound that carried the flow first, the lane (a group) last; [lane] when not known.</summary>
    public IReadOnlyList<string> Chain { get; internal set; } = [];

    /// <summary>The rule that chose the lane, as a person reads it ("final" when none matched).</summary>
    public string Rule { get; }

    public DateTimeOffset Start { get; }

    /// <summary>Bytes from the app towards the destination.</summary>
    public long Upload => Interlocked.Read(ref _upload);

    /// <summary>Bytes from the destination to the app.</summary>
    public long Download => Interlocked.Read(ref _download);

    public void AddUpload(long bytes) => Interlocked.Add(ref _upload, bytes);

    public void AddDownload(long bytes) => Interlocked.Add(ref _download, bytes);

    internal Action? TakeCloser() => Interlocked.Exchange(ref _close, null);

    private ProcessInfo? _lateProcess;
    private int _lateResolved;

    internal Func<FlowKey, ProcessInfo?>? Resolver { get; set; }

    /// <summary>
    /// <see cref="Process"/>, or when the data path did not look it up (no rule needed it), a lookup now through
    /// <see cref="ConnectionRegistry.ProcessResolver"/> — once per flow, off the data path, while the app's socket lives.
    /// </summary>
    public ProcessInfo? ResolveProcess()
    {
        if (Process is not null) return Process;
        if (Resolver is not { } resolve || Interlocked.Exchange(ref _lateResolved, 1) == 1) return Volatile.Read(ref _lateProcess);
        try
        {
            Volatile.Write(ref _lateProcess, resolve(SocketKey));
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
        }
        return Volatile.Read(ref _lateProcess);
    }
}

/// <summary>
/// Every live flow the engine carries, for `/connections`, `sluice connections`, per-app speeds and
/// closing flows of a dead server. Totals include flows that already ended.
/// </summary>
public sealed class ConnectionRegistry(TimeProvider time)
{
    private readonly ConcurrentDictionary<long, TrackedConnection> _live = new();
    private long _nextId;
    private int _count; // _live.Count without taking every lock of the dictionary (read on each removal)
    private long _closedUpload;
    private long _closedDownload;

    public TrackedConnection Add(FlowKey key, string inbound, string? domain, ProcessInfo? process, string lane, string rule, Action? close, FlowKey? socketKey = null)
    {
        var connection = new TrackedConnection(Interlocked.Increment(ref _nextId), key, inbound, domain, process, lane, rule, time.GetUtcNow(), close, socketKey);
        connection.Resolver = ProcessResolver;
        if (ChainResolver is { } chain) connection.Chain = chain(lane);
        _live[connection.Id] = connection;
        Interlocked.Increment(ref _count);
        return connection;
    }

    /// <summary>The flow ended; its bytes move into the totals.</summary>
    public void Remove(TrackedConnection connection)
    {
        if (!_live.TryRemove(connection.Id, out _)) return;
        Interlocked.Decrement(ref _count);
        Interlocked.Add(ref _closedUpload, connection.Upload);
        Interlocked.Add(ref _closedDownload, connection.Download);
        connection.TakeCloser();
        Removed?.Invoke(connection);
    }

    /// <summary>A flow ended (its final byte counts are readable); raised on the thread that removed it. Keep handlers short.</summary>
    public event Action<TrackedConnection>? Removed;

    /// <summary>The outbounds a new flow on a lane passes through, taken when it starts (a group's member now, then the group).</summary>
    public Func<string, IReadOnlyList<string>>? ChainResolver { get; set; }

    /// <summary>Looks up the process of flows recorded without one, when the API asks (<see cref="TrackedConnection.ResolveProcess"/>); null = never.</summary>
    public Func<FlowKey, ProcessInfo?>? ProcessResolver { get; set; }

    public IReadOnlyList<TrackedConnection> Snapshot() => _live.Values.OrderBy(c => c.Id).ToArray();

    public int Count => Volatile.Read(ref _count);

    /// <summary>Whether the flow is still live: false once <see cref="Remove"/> took it (before <see cref="Removed"/> is raised).</summary>
    public bool IsLive(TrackedConnection connection) => _live.ContainsKey(connection.Id);

    /// <summary>Ends a live flow (the app sees a reset); false when no such flow.</summary>
    public bool Close(long id)
    {
        if (!_live.TryGetValue(id, out var connection)) return false;
        connection.TakeCloser()?.Invoke();
        Remove(connection);
        return true;
    }

    /// <summary>Ends every live flow that matches (all when null); returns how many.</summary>
    public int CloseAll(Func<TrackedConnection, bool>? filter = null)
    {
        int closed = 0;
        foreach (var connection in _live.Values)
            if ((filter is null || filter(connection)) && Close(connection.Id)) closed++;
        return closed;
    }

    /// <summary>All bytes so far, live and ended flows.</summary>
    public (long Upload, long Download) Totals()
    {
        long up = Interlocked.Read(ref _closedUpload), down = Interlocked.Read(ref _closedDownload);
        foreach (var connection in _live.Values)
        {
            up += connection.Upload;
            down += connection.Download;
        }
        return (up, down);
    }
}
