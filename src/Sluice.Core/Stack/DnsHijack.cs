using System.Buffers;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Core.Dns;
using Sluice.Core.Flows;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// Port-53 traffic a rule hijacks (action hijack-dns) is answered by the built-in DNS server:
/// 1. UDP: each query datagram is answered asynchronously; the answer is built as an IP/UDP packet
///    from the address the app asked (whatever resolver it thought it was talking to) and written to the TUN;
/// 2. TCP: the relay hands over the accepted socket; a <see cref="DnsStreamSession"/> answers its messages.
/// The querying process is resolved only if a DNS rule asks for it.
/// A UDP query answered at once (<see cref="DnsServer.TryAnswerAtOnce"/>: a cache hit, hosts, a rule's answer) costs
/// nothing more. One that has to wait for an upstream holds a copy of the query and an answer buffer of what its client can receive (pooled) until it is answered; at most
/// <see cref="EngineLimits.PendingDnsPerOwner"/> per owner (<see cref="DnsQueryOwner"/>: the socket's uid, else the
/// querying address) and <see cref="EngineLimits.PendingDnsTotal"/> in all wait at once. More are dropped and counted
/// (a flood of random names cannot grow memory, nor take the other owners' share; apps retry), with a warning at
/// most every <see cref="DropLogInterval"/>.
/// </summary>
internal sealed partial class DnsHijack(DnsServer server, ITunDevice tun, ILogger logger, EngineLimits limits,
    IProcessLookup? processes = null, TimeProvider? time = null, ArrayPool<byte>? buffers = null)
{
    private readonly ArrayPool<byte> _buffers = buffers ?? ArrayPool<byte>.Shared;
    private const int MaxMessage = 65535;
    private static readonly TimeSpan DropLogInterval = TimeSpan.FromSeconds(10);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<DnsQueryOwner, int> _pendingByOwner = new();
    private int _pendingTotal;
    private long _dropped;
    private long _lastDropLog = long.MinValue;

    /// <summary>Queries dropped because their owner, or all owners together, had too many waiting for an upstream.</summary>
    public long DroppedQueries => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Whose share a query of <paramref name="key"/> counts against (packet thread; once per UDP session, at its first
    /// query that has to wait for an upstream). The socket's uid from the kernel's socket table; a flow with no local
    /// socket found (or a lookup that failed) counts against its source address.
    /// </summary>
    public DnsQueryOwner OwnerOf(in FlowKey key)
    {
        try
        {
            if (processes is not null && processes.TryFindSocketUid(key, out uint uid)) return DnsQueryOwner.OfUid(uid);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No netlink socket (out of fds): the address's bucket is still a bucket.
        }
        return DnsQueryOwner.OfAddress(key.Source);
    }

    public IDomainMap Map => server.Map;

    /// <summary>The querying app as the DNS rules see it; its process is looked up only if a rule asks.</summary>
    public static DnsQuerier QuerierFor(FlowContext flow) => new(flow.Inbound, () => flow.Process);

    /// <summary>
    /// The real address for a name, for lanes that cannot dial a name (direct, WireGuard) when the app
    /// only ever saw a fake IP. Picks by <paramref name="strategy"/> (a direct outbound's domain_strategy; a relayed
    /// TCP flow may leave in the other family), else prefers the family the app used; null when the name does not resolve.
    /// </summary>
    public async ValueTask<NetAddress?> ResolveRealAsync(string domain, bool preferV4, CancellationToken ct, DnsStrategy? strategy = null)
    {
        try
        {
            var addresses = await server.ResolveForEngineAsync(domain, ct);
            var pick = HostAddresses.Choose(addresses, strategy ?? (preferV4 ? DnsStrategy.PreferIpv4 : DnsStrategy.PreferIpv6));
            if (pick is null && addresses.Count > 0) LogFailed(logger, domain, HostAddresses.NoAddress(domain, strategy));
            return pick is null ? null : NetAddress.FromIPAddress(pick);
        }
        catch (Exception e) when (e is DnsLookupException or OperationCanceledException or SocketException)
        {
            LogFailed(logger, domain, e.Message);
            return null;
        }
    }

    // The packet thread's answer buffer: any IP packet fits (the server keeps a UDP answer within 65535 − header), and
    // 64 KiB exactly is the pool's 64 KiB bucket.
    private const int PacketBufferSize = 65536;

    // The packet thread's buffers, for the queries answered at once. A query that has to wait for an upstream takes a
    // copy of itself and an answer buffer of what its client can receive (WaitingAnswerRoom), both of their own size.
    private readonly byte[] _inlineQuery = ArrayPool<byte>.Shared.Rent(MaxMessage);
    private readonly byte[] _inlinePacket = ArrayPool<byte>.Shared.Rent(PacketBufferSize);

    /// <summary>
    /// The answer room a waiting query needs: what its client can receive over UDP (its EDNS payload size, else 512;
    /// the server truncates with TC to that anyway), not 64 KiB. A flood of random names keeps a share of queries
    /// waiting and churns through thousands of them: at 64 KiB each, as before, the waiting ones outgrew the pool's
    /// bucket, and the rest were fresh 64 KiB arrays that lived as long as an upstream round trip, long enough to be
    /// promoted and to leave the heap larger after every flood (bench/README, branch heap6).
    /// </summary>
    internal static int WaitingAnswerRoom(ReadOnlySpan<byte> query, int header) =>
        Math.Min(DnsServer.ClientUdpLimit(query), 65535 - header);

    /// <summary>
    /// Answers one hijacked UDP query (packet thread). A cache hit is answered right here without allocating;
    /// a query that needs an upstream is counted against its owner's share (<paramref name="owner"/>, the session's:
    /// looked up at the first such query and kept) and finishes off-thread.
    /// </summary>
    public void OnUdpQuery(in FlowKey key, ReadOnlySpan<byte> payload, DnsQuerier querier, ref DnsQueryOwner? owner)
    {
        int header = PacketBuilder.IpUdpHeaderLength(key.IsV4);
        // A session whose owner is known and at its limit is refused before the query is even parsed, so a flood from
        // one socket costs a lock and a counter per datagram (its cache hits wait with the rest until a slot frees).
        if (owner is { } known && !TryReserve(known, reserve: false)) return;
        byte[] packet = _inlinePacket;
        var answer = packet.AsMemory(header, PacketBufferSize - header);
        payload.CopyTo(_inlineQuery);
        if (server.TryAnswerAtOnce(_inlineQuery.AsMemory(0, payload.Length), answer, querier, 65535 - header, out int length))
        {
            WriteAnswer(key, packet, length);
            return;
        }
        // Counted in before the server starts an upstream exchange, so a refused query costs nothing.
        owner ??= OwnerOf(key);
        if (!TryReserve(owner.Value, reserve: true)) return;
        byte[] query = _buffers.Rent(payload.Length); // a few dozen bytes, not 64 KiB, while it waits
        payload.CopyTo(query);
        int room = WaitingAnswerRoom(payload, header);
        byte[] waiting = _buffers.Rent(header + room);
        var pending = server.HandleAsync(query.AsMemory(0, payload.Length), waiting.AsMemory(header, room), querier, 65535 - header, _stop.Token);
        if (pending.IsCompletedSuccessfully)
        {
            Release(owner.Value);
            _buffers.Return(query);
            WriteAnswer(key, waiting, pending.Result);
            _buffers.Return(waiting);
            return;
        }
        _ = FinishAsync(pending, key, owner.Value, query, waiting);
    }

    /// <summary>
    /// Counts a waiting query in (<paramref name="reserve"/>), or only checks there is room; refuses (counted, logged)
    /// when its owner or the total is at the limit.
    /// </summary>
    private bool TryReserve(DnsQueryOwner owner, bool reserve)
    {
        int mine;
        lock (_pendingByOwner)
        {
            mine = _pendingByOwner.GetValueOrDefault(owner);
            if (mine < limits.PendingDnsPerOwner && _pendingTotal < limits.PendingDnsTotal)
            {
                if (!reserve) return true;
                _pendingByOwner[owner] = mine + 1;
                _pendingTotal++;
                return true;
            }
        }
        long dropped = Interlocked.Increment(ref _dropped);
        long now = _time.GetTimestamp();
        long last = Interlocked.Read(ref _lastDropLog);
        if ((last == long.MinValue || _time.GetElapsedTime(last, now) >= DropLogInterval) && Interlocked.CompareExchange(ref _lastDropLog, now, last) == last)
        {
            string which = mine >= limits.PendingDnsPerOwner ? "its own share" : "the total";
            LogPendingFull(logger, owner.ToString(), which, limits.PendingDnsPerOwner, limits.PendingDnsTotal, dropped);
        }
        return false;
    }

    /// <summary>Told the number still waiting each time a waiting query finishes (the engine's <see cref="Monitoring.MemoryTrimmer"/>).</summary>
    public Action<int>? WaitingQueryFinished { get; init; }

    /// <summary>Owners with a query waiting now (tests: the table empties, and shrinks back, when none waits).</summary>
    internal (int Owners, int Capacity) PendingTable
    {
        get
        {
            lock (_pendingByOwner) return (_pendingByOwner.Count, _pendingByOwner.EnsureCapacity(0));
        }
    }

    private void Release(DnsQueryOwner owner)
    {
        int waiting;
        lock (_pendingByOwner)
        {
            waiting = --_pendingTotal;
            int mine = _pendingByOwner.GetValueOrDefault(owner) - 1;
            if (mine <= 0) _pendingByOwner.Remove(owner);
            else _pendingByOwner[owner] = mine;
            // Many owners waiting at once (up to PendingDnsTotal) grew the table; it keeps its arrays after Remove.
            if (waiting == 0 && _pendingByOwner.EnsureCapacity(0) > SmallOwnerTable) _pendingByOwner.TrimExcess(SmallOwnerTable);
        }
        WaitingQueryFinished?.Invoke(waiting);
    }

    // Owners that usually wait at once (a few users and addresses): the table's size when nothing waits.
    private const int SmallOwnerTable = 16;

    private void WriteAnswer(in FlowKey key, byte[] packet, int length)
    {
        if (length <= 0) return;
        int total = PacketBuilder.UdpInPlace(packet, key.Destination, key.DestinationPort, key.Source, key.SourcePort, length);
        tun.Write(packet.AsSpan(0, total));
    }

    private async Task FinishAsync(ValueTask<int> pending, FlowKey key, DnsQueryOwner owner, byte[] query, byte[] packet)
    {
        try
        {
            WriteAnswer(key, packet, await pending);
        }
        catch (Exception e)
        {
            LogFailed(logger, key.ToString(), e.Message);
        }
        finally
        {
            Release(owner);
            _buffers.Return(query);
            _buffers.Return(packet);
        }
    }

    /// <summary>Serves DNS over TCP on a hijacked, accepted connection until the app closes it or goes idle.</summary>
    public Task ServeTcpAsync(Socket client, FlowContext flow, byte[]? firstBytes, int firstLength)
    {
        var stream = new NetworkStream(client, ownsSocket: false);
        var input = firstLength > 0 ? new PrefixedStream(stream, firstBytes!, firstLength) : (Stream)stream;
        return DnsStreamSession.ServeAsync(server, input, stream, QuerierFor(flow), DnsStreamSession.IdleTimeout, _stop.Token);
    }

    public void Stop() => _stop.Cancel();

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS queries waiting for an upstream are at the limit ({Owner} filled {Which}: {PerOwner} per owner, {Total} in all); dropping its new ones ({Dropped} dropped so far; docs/config.md#limits)")]
    private static partial void LogPendingFull(ILogger logger, string owner, string which, int perOwner, int total, long dropped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: DNS answer failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string flow, string reason);
}
