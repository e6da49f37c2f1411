using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sluice.Core.Flows;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// New TUN flows whose rules need the owning process while only a slow lookup (a /proc scan) can find it:
/// 1. the packet thread parks the flow's first packet here (at most <see cref="EngineLimits.PendingOwnerLookups"/>;
///    a retransmission of a parked flow and a packet over the limit are dropped) and goes on with other flows;
/// 2. one worker thread runs <see cref="IProcessLookup.Find"/> for each and queues the answer;
/// 3. <see cref="Answered"/> tells the packet path, which takes the answers under its gate (so the NAT and the
///    sessions never see two threads at once) and handles each parked packet again, the process now known.
/// The parked table is only touched under that gate.
/// </summary>
internal sealed partial class OwnerLookups : IDisposable
{
    private readonly IProcessLookup _processes;
    private readonly int _limit;
    private readonly ILogger _logger;
    private readonly Dictionary<FlowKey, byte[]> _parked = new();
    private readonly BlockingCollection<(FlowKey Key, FlowKey Socket)> _requests = new();
    private readonly ConcurrentQueue<(FlowKey Key, ProcessInfo? Process)> _answers = new();
    private readonly Thread _worker;
    private long _dropped;

    public OwnerLookups(IProcessLookup processes, int limit, ILogger logger)
    {
        _processes = processes;
        _limit = limit;
        _logger = logger;
        _worker = new Thread(Work) { IsBackground = true, Name = "sluice-owner-lookup" };
        _worker.Start();
    }

    /// <summary>Called on the worker after each answer; the packet path readmits the answered flows.</summary>
    public Action? Answered { get; set; }

    /// <summary>Flows waiting for their process now.</summary>
    public int Count => _parked.Count;

    /// <summary>First packets dropped because the table was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Keeps <paramref name="packet"/> until the process behind <paramref name="socket"/> is known.</summary>
    public void Park(in FlowKey key, in FlowKey socket, ReadOnlySpan<byte> packet)
    {
        if (_parked.ContainsKey(key) || _requests.IsAddingCompleted) return;
        if (_parked.Count >= _limit)
        {
            if (Interlocked.Increment(ref _dropped) == 1) LogFull(_logger, _limit, key.ToString());
            return;
        }
        _parked[key] = packet.ToArray();
        try
        {
            _requests.Add((key, socket));
        }
        catch (InvalidOperationException)
        {
            _parked.Remove(key); // stopping
        }
    }

    /// <summary>The next answered flow with its parked packet; under the packet path's gate.</summary>
    public bool TryTakeAnswer(out OwnerAnswer answer, out byte[] packet)
    {
        while (_answers.TryDequeue(out var queued))
        {
            if (!_parked.Remove(queued.Key, out var parked)) continue;
            (answer, packet) = (new OwnerAnswer(queued.Key, queued.Process), parked);
            return true;
        }
        (answer, packet) = (default, []);
        return false;
    }

    private void Work()
    {
        foreach (var (key, socket) in _requests.GetConsumingEnumerable())
        {
            ProcessInfo? process = null;
            try
            {
                process = _processes.Find(socket);
            }
            catch (Exception e)
            {
                // Admitted as a flow whose process is unknown rather than never.
                LogLookupFailed(_logger, key.ToString(), e.Message);
            }
            _answers.Enqueue((key, process));
            try
            {
                Answered?.Invoke();
            }
            catch (Exception e)
            {
                LogReadmitFailed(_logger, e.GetType().Name, e.Message);
            }
        }
    }

    public void Dispose()
    {
        _requests.CompleteAdding();
        // A worker still inside a lookup finds the collection completed when it returns; only then is it freed.
        if (_worker.Join(TimeSpan.FromSeconds(2))) _requests.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Limit} new flows already wait for their process; {Flow} and later ones over the limit are dropped (the app retries)")]
    private static partial void LogFull(ILogger logger, int limit, string flow);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: process lookup failed ({Reason}); decided without the process")]
    private static partial void LogLookupFailed(ILogger logger, string flow, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "readmitting flows after a process lookup failed with {Error}: {Reason}")]
    private static partial void LogReadmitFailed(ILogger logger, string error, string reason);
}

/// <summary>The process found for a parked flow; the packet path hands it down with the flow's first packet.</summary>
internal readonly record struct OwnerAnswer(FlowKey Key, ProcessInfo? Process);
