using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// UDP in user space: one session per app 5-tuple.
/// 1. the packet loop routes the first datagram of a flow; a refusal answers ICMP unreachable (or drops);
/// 2. the session opens a datagram channel on its outbound and sends the payload;
/// 3. a receive loop builds each answer as an IP/UDP packet in place (payload received right after
///    the header space) and writes it to the TUN;
/// 4. a session idle for <paramref name="limits"/>.UdpIdle is closed by <see cref="Sweep"/>;
/// 5. at <see cref="EngineLimits.UdpSessions"/> the least recently active sessions are closed first
///    (counted in <see cref="Evicted"/>), so a flood of distinct flows cannot grow the table without bound;
/// 6. a flow routed to a lane that cannot carry UDP (an HTTP proxy, "network": "tcp", a group whose chosen
///    member is such a lane) is refused: every datagram is answered with ICMP port unreachable, nothing is
///    dialed, and the flow is counted per lane in <see cref="RefusedByLane"/>. It is never sent another way.
/// Receive buffers are rented from a pool and returned when the session ends.
/// </summary>
internal sealed partial class UdpSessions(ITunDevice tun, FlowAdmission admission, DnsHijack? dns, ILogger logger, TimeProvider time, EngineLimits limits) : IDisposable
{
    private readonly TimeSpan idle = limits.UdpIdle;
    private long _evicted;
    private long _lastEvictionLog;

    /// <summary>Sessions closed because the table was full (least recently active first).</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    private readonly ConcurrentDictionary<FlowKey, UdpSession> _sessions = new();
    private readonly CancellationTokenSource _stop = new();

    public int Count => _sessions.Count;

    /// <summary>UDP flows refused because their lane carries TCP only, per lane (the member a group chose); the mixed inbound's refusals count here too.</summary>
    public IReadOnlyDictionary<string, long> RefusedByLane => admission.UdpRefusedByLane;

    /// <summary>Forwards an app datagram of a known flow (packet thread); false when the flow has no session yet.</summary>
    public bool TryForward(in IpPacket packet, in FlowKey key, ReadOnlySpan<byte> payload, Span<byte> scratch)
    {
        if (!_sessions.TryGetValue(key, out var session)) return false;
        session.LastActive = time.Milliseconds();
        if (session.Choice.Kind == LaneKind.Reject) Refusals.Unreachable(tun, scratch, packet);
        else if (session.UdpRefused) Refusals.PortUnreachable(tun, scratch, packet);
        else if (session.Choice.Kind == LaneKind.HijackDns) dns?.OnUdpQuery(key, payload, session.Querier!, ref session.DnsOwner);
        else if (session.Channel is { } channel)
        {
            channel.Send(payload);
            session.Connection?.AddUpload(payload.Length);
        }
        // Datagrams that arrive while the channel is still opening are lost, as UDP allows.
        return true;
    }

    /// <summary>Starts the session of a new flow the packet loop has routed (packet thread).</summary>
    public void Open(in IpPacket packet, in FlowKey key, FlowContext flow, LaneChoice choice, ReadOnlySpan<byte> payload, Span<byte> scratch)
    {
        // A datagram the packet thread read after Dispose opens nothing: no sweep would ever close it.
        if (_stop.IsCancellationRequested) return;
        if (choice.Kind == LaneKind.Reject) Refusals.Unreachable(tun, scratch, packet);
        if (_sessions.Count >= limits.UdpSessions) EvictLeastRecent();
        var session = new UdpSession(key, choice, time.Milliseconds())
        {
            Target = flow.Dialled(new Destination(key.Destination, key.DestinationPort)),
            IdleMs = flow.UdpTimeout is { } custom ? (long)custom.TotalMilliseconds : 0,
        };
        if (!_sessions.TryAdd(key, session)) return;
        if (_stop.IsCancellationRequested)
        {
            // Dispose ran between the check above and the add: undo, or the session would outlive it.
            if (_sessions.TryRemove(new KeyValuePair<FlowKey, UdpSession>(key, session))) session.Dispose();
            return;
        }
        if (choice.Kind == LaneKind.HijackDns)
        {
            admission.Hijacked(flow);
            // One querier per session: later queries of this flow allocate nothing for it.
            session.Querier = DnsHijack.QuerierFor(flow);
            if (dns is null) return;
            dns.OnUdpQuery(key, payload, session.Querier, ref session.DnsOwner);
            return;
        }
        if (choice.Kind == LaneKind.Outbound && !choice.Outbound!.CarriesUdp)
        {
            session.UdpRefused = true;
            string lane = OutboundGroup.CarrierTag(choice.Outbound);
            admission.RefusedUdp(flow, choice.Outbound.Tag, lane);
            Refusals.PortUnreachable(tun, scratch, packet);
            return;
        }
        if (choice.Kind == LaneKind.Outbound)
        {
            admission.Routed(flow, choice.Outbound!.Tag, choice.Decision);
            session.Connection = admission.Register(flow, choice.Outbound!.Tag, choice.Decision.RuleIndex, session.Dispose);
            _ = RunAsync(session, choice.Outbound!, payload.ToArray());
            return;
        }
        admission.Refused(flow, choice);
    }

    private async Task RunAsync(UdpSession session, IOutbound outbound, byte[] firstPayload)
    {
        var key = session.Key;
        int headerLength = PacketBuilder.IpUdpHeaderLength(key.IsV4);
        // 64 KiB exactly (an IP packet's limit, header included): the pool's 64 KiB bucket, not the 128 KiB one.
        // A channel that can wait without a buffer gets one only while a datagram is there: an idle session holds none.
        byte[]? buffer = null;
        try
        {
            var channel = await outbound.OpenUdpAsync(session.Target, session.Cancel.Token);
            session.Channel = channel;
            var readiness = channel as IDatagramReadiness;
            channel.Send(firstPayload);
            session.Connection?.AddUpload(firstPayload.Length);
            while (!session.Cancel.IsCancellationRequested)
            {
                if (buffer is null)
                {
                    if (readiness is not null) await readiness.WaitReadableAsync(session.Cancel.Token);
                    buffer = ArrayPool<byte>.Shared.Rent(65536);
                }
                int n = await channel.ReceiveAsync(buffer.AsMemory(headerLength, 65535 - headerLength), session.Cancel.Token);
                session.LastActive = time.Milliseconds();
                session.Connection?.AddDownload(n);
                int length = PacketBuilder.UdpInPlace(buffer, key.Destination, key.DestinationPort, key.Source, key.SourcePort, n);
                tun.Write(buffer.AsSpan(0, length));
                if (readiness is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (OutboundException e)
        {
            LogOpenFailed(logger, key.ToString(), outbound.Tag, e.Message);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            LogSessionError(logger, key.ToString(), e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Nobody awaits this task: an outbound failing in a way not listed above must still say so.
            LogSessionFailed(logger, key.ToString(), outbound.Tag, e.GetType().Name, e.Message);
        }
        finally
        {
            _sessions.TryRemove(new KeyValuePair<FlowKey, UdpSession>(key, session));
            session.Dispose();
            if (session.Connection is { } connection) admission.Unregister(connection);
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Closes the least recently active batch of sessions (packet thread, table full).</summary>
    private void EvictLeastRecent()
    {
        var all = _sessions.ToArray();
        int batch = Math.Min(limits.UdpEvictionBatch, all.Length);
        var ages = new long[all.Length];
        for (int i = 0; i < all.Length; i++) ages[i] = all[i].Value.LastActive;
        Array.Sort(ages, all);
        for (int i = 0; i < batch; i++)
        {
            var (key, session) = all[i];
            if (!_sessions.TryRemove(new KeyValuePair<FlowKey, UdpSession>(key, session))) continue;
            session.Dispose();
            if (session.Connection is { } connection) admission.Unregister(connection);
            Interlocked.Increment(ref _evicted);
        }
        long now = time.Milliseconds();
        if (now - _lastEvictionLog >= 10_000)
        {
            _lastEvictionLog = now;
            LogEvicted(logger, limits.UdpSessions, Evicted);
        }
    }

    /// <summary>Closes sessions idle longer than the timeout; called periodically.</summary>
    public void Sweep(long now)
    {
        long idleMs = (long)idle.TotalMilliseconds, next = long.MaxValue;
        foreach (var (key, session) in _sessions)
        {
            long expiry = session.LastActive + (session.IdleMs > 0 ? session.IdleMs : idleMs);
            if (now <= expiry)
            {
                next = Math.Min(next, expiry);
                continue;
            }
            if (_sessions.TryRemove(new KeyValuePair<FlowKey, UdpSession>(key, session))) session.Dispose();
        }
        NextExpiry = next;
    }

    /// <summary>When the earliest session left by the last <see cref="Sweep"/> goes idle (engine ms); MaxValue when none is left.</summary>
    public long NextExpiry { get; private set; } = long.MaxValue;

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var session in _sessions.Values) session.Dispose();
        _sessions.Clear();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "UDP sessions at the limit of {Limit}: closing the least recently active ({Evicted} closed so far; docs/config.md#limits)")]
    private static partial void LogEvicted(ILogger logger, int limit, long evicted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow} via {Outbound}: {Reason}")]
    private static partial void LogOpenFailed(ILogger logger, string flow, string outbound, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow} via {Outbound}: UDP session failed: {Error}: {Reason}")]
    private static partial void LogSessionFailed(ILogger logger, string flow, string outbound, string error, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Flow}: UDP session ended: {Reason}")]
    private static partial void LogSessionError(ILogger logger, string flow, string reason);
}

internal sealed class UdpSession(FlowKey key, LaneChoice choice, long now) : IDisposable
{
    /// <summary>For a hijack-dns session: who asks, built once.</summary>
    public Dns.DnsQuerier? Querier { get; set; }

    /// <summary>
    /// For a hijack-dns session: whose share of the queries waiting for an upstream it uses; looked up (packet thread)
    /// at its first query that needs an upstream, null until then (a session answered from the cache never asks).
    /// </summary>
    public DnsQueryOwner? DnsOwner;

    public FlowKey Key { get; } = key;

    public LaneChoice Choice { get; } = choice;

    /// <summary>The flow's lane cannot carry UDP: each datagram is answered with port unreachable.</summary>
    public bool UdpRefused { get; set; }

    public long LastActive = now;

    /// <summary>Where the outbound sends: the app's destination, or route-options' override.</summary>
    public Destination Target { get; init; }

    /// <summary>route-options udp_timeout in ms; 0 = the engine's idle timeout.</summary>
    public long IdleMs { get; init; }

    public volatile IUdpChannel? Channel;

    public TrackedConnection? Connection { get; set; }

    public CancellationTokenSource Cancel { get; } = new();

    public void Dispose()
    {
        try
        {
            Cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        Channel?.Dispose();
    }
}
