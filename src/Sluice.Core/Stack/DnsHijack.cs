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
/// A UDP query that has to wait for an upstream holds two pooled buffers until it is answered; at most
/// <see cref="EngineLimits.PendingDnsPerOwner"/> per owner (<see cref="DnsQueryOwner"/>: the socket's uid, else the
/// querying address) and <see cref="EngineLimits.PendingDnsTotal"/> in all wait at once. More are dropped and counted
/// (a flood of random names cannot grow memory, nor take the other owners' share; apps retry), with a warning at
/// most every <see cref="DropLogInterval"/>.
/// </summary>
internal sealed partial class DnsHijack(DnsServer server, ITunDevice tun, ILogger logger, EngineLimits limits,
    IProcessLookup? processes = null, TimeProvider? time = null)
{
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
    /// Whose share a query of <paramref name="key"/> counts against (packet thread; once per UDP session). The socket's
    /// uid from the kernel's socket table; a flow with no local socket found (or a lookup that failed) counts
    /// against its source address.
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
    /// only ever saw a fake IP. Prefers the family the app used; null when the name does not resolve.
    /// </summary>
    public async ValueTask<NetAddress?> ResolveRealAsync(string domain, bool preferV4, CancellationToken ct)
    {
        try
        {
            var addresses = await server.ResolveForEngineAsync(domain, ct);
            var family = preferV4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
            var pick = addresses.FirstOrDefault(a => a.AddressFamily == family) ?? addresses.FirstOrDefault();
            return pick is null ? null : NetAddress.FromIPAddress(pick);
        }
        catch (Exception e) when (e is DnsLookupException or OperationCanceledException or SocketException)
        {
            LogFailed(logger, domain, e.Message);
            return null;
        }
    }

    // The packet thread's buffers. A query that has to wait for an upstream keeps the pair it was
    // given (the server may write into them later) and the packet thread takes a fresh pair.
    private byte[] _inlineQuery = ArrayPool<byte>.Shared.Rent(MaxMessage);
    private byte[] _inlinePacket = ArrayPool<byte>.Shared.Rent(48 + MaxMessage);

    /// <summary>
    /// Answers one hijacked UDP query (packet thread). A cache hit completes synchronously and is
    /// answered right here without allocating; a query that needs an upstream finishes off-thread.
    /// </summary>
    public void OnUdpQuery(in FlowKey key, ReadOnlySpan<byte> payload, DnsQuerier querier, DnsQueryOwner owner)
    {
        // Counted in before the server starts an upstream exchange, so a refused query costs nothing.
        if (!TryReserve(owner)) return;
        int header = PacketBuilder.IpUdpHeaderLength(key.IsV4);
        byte[] query = _inlineQuery, packet = _inlinePacket;
        payload.CopyTo(query);
        var pending = server.HandleAsync(query.AsMemory(0, payload.Length), packet.AsMemory(header, MaxMessage), querier, 65535 - header, _stop.Token);
        if (pending.IsCompletedSuccessfully)
        {
            Release(owner);
            WriteAnswer(key, packet, pending.Result);
            return;
        }
        _inlineQuery = ArrayPool<byte>.Shared.Rent(MaxMessage);
        _inlinePacket = ArrayPool<byte>.Shared.Rent(48 + MaxMessage);
        _ = FinishAsync(pending, key, owner, query, packet);
    }

    /// <summary>Counts a waiting query in, or refuses it when its owner or the total is at the limit.</summary>
    private bool TryReserve(DnsQueryOwner owner)
    {
        int mine;
        lock (_pendingByOwner)
        {
            mine = _pendingByOwner.GetValueOrDefault(owner);
            if (mine < limits.PendingDnsPerOwner && _pendingTotal < limits.PendingDnsTotal)
            {
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

    private void Release(DnsQueryOwner owner)
    {
        lock (_pendingByOwner)
        {
            _pendingTotal--;
            int mine = _pendingByOwner.GetValueOrDefault(owner) - 1;
            if (mine <= 0) _pendingByOwner.Remove(owner);
            else _pendingByOwner[owner] = mine;
        }
    }

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
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(packet);
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
