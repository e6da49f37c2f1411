using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Core.Dns;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Direct;

/// <summary>
/// The UDP side of a DNS listener: receive threads doing blocking receives on the one socket.
/// Each thread, per datagram:
/// 1. receive it and its sender into the thread's reused buffers (no allocation);
/// 2. find the sender's flow (routed at its first query, remembered until idle for <see cref="IdleTimeout"/>);
/// 3. answer: when the server completes at once (cache hit, rule, hosts, fakeip) the answer is sent
///    from this thread before the next receive; otherwise the query keeps its buffers, the answer is
///    sent when the upstream exchange completes, and the thread takes fresh buffers.
/// Each thread keeps its own flow table (a client may be routed once per thread). More than one thread
/// keeps answering while another is preempted, which is what bounds the tail latency on a busy host.
/// </summary>
internal sealed partial class DnsUdpListener : IDisposable
{
    /// <summary>A client that sent nothing for 60 s is forgotten; its next query is routed again.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Beyond this many remembered clients (per thread) the idle ones are swept at once (a port scan must not grow the table).</summary>
    internal const int MaxFlows = 16384;

    private const int MaxMessage = 65535;

    /// <summary>The largest UDP payload; the client's EDNS size (512 without EDNS) is the real cap.</summary>
    private const int MaxUdpAnswer = 65507;

    private readonly DirectInbound _inbound;
    private readonly Socket _socket;
    private readonly Worker[] _workers;
    private volatile bool _stopping;

    /// <param name="threads">Receive threads; default one per core, at most 2 (DNS answers are too cheap for more to pay off).</param>
    public DnsUdpListener(DirectInbound inbound, Socket socket, int threads = 0)
    {
        _inbound = inbound;
        _socket = socket;
        if (threads <= 0) threads = Math.Clamp(Environment.ProcessorCount, 1, 2);
        _workers = new Worker[threads];
        for (int i = 0; i < threads; i++) _workers[i] = new Worker(this);
    }

    /// <summary>Clients currently remembered, summed over the threads (tests).</summary>
    internal int FlowCount => _workers.Sum(w => w.FlowCount);

    public void Start()
    {
        for (int i = 0; i < _workers.Length; i++)
        {
            var worker = _workers[i];
            worker.Thread = new Thread(worker.Run) { IsBackground = true, Name = $"sluice-dns-{i}-{_inbound.Tag}" };
            worker.Thread.Start();
        }
    }

    private async Task FinishAsync(ValueTask<int> pending, byte[] query, byte[] answer, SocketAddress to)
    {
        try
        {
            int n = await pending;
            if (n > 0 && !_stopping) Send(answer.AsSpan(0, n), to);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // stopping, or the answer could not be sent (the client is gone): UDP loses it
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(answer);
        }
    }

    private void Send(ReadOnlySpan<byte> answer, SocketAddress to)
    {
        try
        {
            _socket.SendTo(answer, SocketFlags.None, to);
        }
        catch (SocketException e)
        {
            LogSendFailed(_inbound.Logger, _inbound.Tag, e.SocketErrorCode);
        }
    }

    /// <summary>
    /// The sender as a flow key, read from the socket address without allocating: the port sits at
    /// offset 2 and the IPv4 address at 4, the IPv6 address at 8 (sockaddr_in / sockaddr_in6 on Linux
    /// and macOS alike). A v4-mapped sender on a dual-stack socket becomes its IPv4 address.
    /// </summary>
    private FlowKey KeyOf(SocketAddress from)
    {
        var raw = from.Buffer.Span;
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(raw[2..]);
        NetAddress address;
        if (from.Family == AddressFamily.InterNetwork) address = NetAddress.FromBytes(raw.Slice(4, 4));
        else
        {
            var v6 = raw.Slice(8, 16);
            address = v6[..10].IndexOfAnyExcept((byte)0) < 0 && v6[10] == 0xff && v6[11] == 0xff
                ? NetAddress.FromBytes(v6[12..])
                : NetAddress.FromBytes(v6);
        }
        return _inbound.KeyFor(IpProtocol.Udp, address, port);
    }

    public void Dispose()
    {
        _stopping = true;
        // Closing the socket ends a blocking receive (the runtime shuts the socket down first).
        _socket.Dispose();
        foreach (var worker in _workers)
        {
            if (worker.Thread is { } t && t != Thread.CurrentThread) t.Join(TimeSpan.FromSeconds(2));
        }
    }

    /// <summary>One receive thread: its buffers and its flow table, touched by that thread alone.</summary>
    private sealed class Worker(DnsUdpListener listener)
    {
        private readonly Dictionary<FlowKey, ClientFlow> _flows = new();
        private byte[] _query = ArrayPool<byte>.Shared.Rent(MaxMessage);
        private byte[] _answer = ArrayPool<byte>.Shared.Rent(MaxMessage);
        private long _nextSweep;

        public Thread? Thread { get; set; }

        public int FlowCount { get; private set; }

        public void Run()
        {
            var socket = listener._socket;
            var from = new SocketAddress(socket.AddressFamily);
            while (!listener._stopping)
            {
                int length;
                try
                {
                    length = socket.ReceiveFrom(_query.AsSpan(0, MaxMessage), SocketFlags.None, from);
                }
                catch (SocketException e) when (!listener._stopping && e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize or SocketError.Interrupted)
                {
                    continue; // an ICMP error from an earlier answer, or an oversized datagram: not fatal
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    if (!listener._stopping) LogReceiveFailed(listener._inbound.Logger, listener._inbound.Tag, e.Message);
                    return;
                }
                try
                {
                    Answer(from, length);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // One bad datagram must never stop the listener.
                    LogQueryFailed(listener._inbound.Logger, listener._inbound.Tag, e.GetType().Name, e.Message);
                }
            }
        }

        private void Answer(SocketAddress from, int length)
        {
            long now = Environment.TickCount64;
            if (now >= _nextSweep || _flows.Count >= MaxFlows) Sweep(now);
            var key = listener.KeyOf(from);
            if (!_flows.TryGetValue(key, out var flow))
            {
                flow = new ClientFlow(listener._inbound.Route(key, _query.AsSpan(0, length)));
                _flows[key] = flow;
                FlowCount = _flows.Count;
            }
            flow.LastActive = now;
            if (flow.Querier is null) return;

            byte[] query = _query, answer = _answer;
            var pending = listener._inbound.Server.HandleAsync(query.AsMemory(0, length), answer.AsMemory(0, MaxMessage), flow.Querier, MaxUdpAnswer,
                listener._inbound.Stopping);
            if (pending.IsCompletedSuccessfully)
            {
                int n = pending.Result;
                if (n > 0) listener.Send(answer.AsSpan(0, n), from);
                return;
            }
            // The server reads the query and writes the answer until it completes: hand both over.
            _query = ArrayPool<byte>.Shared.Rent(MaxMessage);
            _answer = ArrayPool<byte>.Shared.Rent(MaxMessage);
            var to = new SocketAddress(from.Family, from.Size);
            from.Buffer.Span.CopyTo(to.Buffer.Span);
            _ = listener.FinishAsync(pending, query, answer, to);
        }

        private void Sweep(long now)
        {
            long idle = (long)IdleTimeout.TotalMilliseconds;
            // Under a flood of new senders, forget everyone idle for more than a second.
            if (_flows.Count >= MaxFlows) idle = 1000;
            foreach (var (key, flow) in _flows)
            {
                if (now - flow.LastActive > idle) _flows.Remove(key);
            }
            if (_flows.Count >= MaxFlows) _flows.Clear();
            FlowCount = _flows.Count;
            _nextSweep = now + 10_000;
        }
    }

    /// <summary>One client: its querier (null when the rules did not hijack it) and when it last asked.</summary>
    private sealed class ClientFlow(DnsQuerier? querier)
    {
        public DnsQuerier? Querier { get; } = querier;

        public long LastActive { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Inbound}: UDP receive failed, listener stopped: {Reason}")]
    private static partial void LogReceiveFailed(ILogger logger, string inbound, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Inbound}: query dropped after {Error}: {Reason}")]
    private static partial void LogQueryFailed(ILogger logger, string inbound, string error, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Inbound}: answer not sent: {Error}")]
    private static partial void LogSendFailed(ILogger logger, string inbound, SocketError error);
}
