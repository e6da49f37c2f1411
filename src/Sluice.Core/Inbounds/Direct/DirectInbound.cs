using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Flows;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Direct;

/// <summary>
/// A DNS listener ("direct" inbound) for apps pointed straight at Sluice, e.g. 127.0.0.1:5353:
/// 1. each client (address and port) is a flow, routed once by the route rules (inbound = this tag;
///    a sniff rule recognises a DNS query, so <c>protocol: dns</c> matches);
/// 2. a flow the rules hijack is answered by the built-in DNS server, which sees this inbound's tag and,
///    if a DNS rule asks, the client's process (its socket found by address and port, as for TUN flows);
/// 3. UDP: receive threads (two on a multi-core host) answer cache hits inline, without allocating,
///    and hand misses to the server asynchronously (<see cref="DnsUdpListener"/>); TCP: one
///    <see cref="DnsStreamSession"/> per connection (several queries, idle timeout);
/// 4. a flow the rules do not hijack is dropped (logged when routed): the inbound forwards nothing.
/// The sockets carry no fwmark: they only answer clients, upstream queries use the engine's marked sockets.
/// </summary>
internal sealed partial class DirectInbound : ILocalInbound
{
    private const int SniffBytes = 2 + 17; // a length prefix and the smallest query PacketLoop recognises

    private readonly DirectInboundOptions _options;
    private readonly DnsServer _server;
    private readonly LaneSelector _lanes;
    private readonly Func<FlowKey, ProcessInfo?>? _lookup;
    private readonly ILogger _logger;
    private readonly DnsUdpListener? _udp;
    private readonly Socket? _tcp;
    private readonly TimeSpan _tcpIdle;
    private readonly CancellationTokenSource _stop = new();

    /// <param name="tcpIdleTimeout">How long a TCP connection may wait for its next query; default <see cref="DnsStreamSession.IdleTimeout"/>.</param>
    public DirectInbound(DirectInboundOptions options, DnsServer server, LaneSelector lanes, Func<FlowKey, ProcessInfo?>? lookup, ILogger logger,
        TimeSpan? tcpIdleTimeout = null)
    {
        _options = options;
        _server = server;
        _lanes = lanes;
        _lookup = lookup;
        _logger = logger;
        _tcpIdle = tcpIdleTimeout ?? DnsStreamSession.IdleTimeout;
        var endpoint = new IPEndPoint(options.Listen, options.ListenPort);
        try
        {
            if (options.Udp) _udp = new DnsUdpListener(this, Bind(endpoint, SocketType.Dgram));
            if (options.Tcp)
            {
                _tcp = Bind(endpoint, SocketType.Stream);
                _tcp.Listen(512);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Tag => _options.Tag;

    public string Endpoint =>
        $"{new IPEndPoint(_options.Listen, _options.ListenPort)} ({(_options.Udp && _options.Tcp ? "udp+tcp" : _options.Udp ? "udp" : "tcp")})";

    internal DnsServer Server => _server;

    internal ILogger Logger => _logger;

    internal CancellationToken Stopping => _stop.Token;

    private Socket Bind(IPEndPoint endpoint, SocketType type)
    {
        var socket = new Socket(endpoint.AddressFamily, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        try
        {
            if (type == SocketType.Stream) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endpoint);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            string network = type == SocketType.Stream ? "TCP" : "UDP";
            throw new InvalidOperationException($"direct inbound \"{_options.Tag}\": cannot listen on {network} {endpoint}: {e.SocketErrorCode} (is another program using the port?)", e);
        }
    }

    public void Start()
    {
        _udp?.Start();
        if (_tcp is not null) _ = AcceptLoopAsync(_tcp);
    }

    /// <summary>
    /// Routes a client's first query. Returns its querier when the rules hijack it, else null (logged).
    /// The flow key runs from the client to this listener, so the process lookup finds the client's socket.
    /// </summary>
    internal DnsQuerier? Route(in FlowKey key, ReadOnlySpan<byte> firstQuery)
    {
        var flow = new FlowContext(key, _options.Tag, _lookup);
        var choice = _lanes.Choose(flow);
        while (choice.Kind == LaneKind.NeedsSniff)
        {
            if (Sniffing.Sniffer.LooksLikeDnsQuery(firstQuery)) flow.Protocol = "dns";
            flow.Sniffed = true;
            choice = _lanes.Choose(flow, choice.Decision.ResumeAt);
        }
        if (choice.Kind == LaneKind.HijackDns)
        {
            if (_logger.IsEnabled(LogLevel.Debug)) LogHijacked(_logger, _options.Tag, key.ToString(), choice.Decision.RuleLabel);
            return new DnsQuerier(_options.Tag, () => flow.Process);
        }
        string lane = choice.Kind == LaneKind.Outbound ? choice.Outbound!.Tag : choice.Kind.ToString().ToLowerInvariant();
        LogNotHijacked(_logger, _options.Tag, key.ToString(), lane, choice.Decision.RuleLabel);
        return null;
    }

    /// <summary>A flow key from a client's address to this listener's (a wildcard listen address stands for the loopback one a local client used).</summary>
    internal FlowKey KeyFor(byte protocol, NetAddress client, ushort clientPort, NetAddress? local = null)
    {
        var destination = local ?? NetAddress.FromIPAddress(_options.Listen);
        if (local is null && LocalInbounds.IsWildcard(_options.Listen))
            destination = client;
        return new FlowKey(protocol, client, clientPort, destination, _options.ListenPort);
    }

    private Task AcceptLoopAsync(Socket listener) =>
        AcceptLoop.RunAsync(listener, ServeTcpAsync, error => LogAcceptFailed(_logger, _options.Tag, error), _stop.Token);

    private async Task ServeTcpAsync(Socket client)
    {
        byte[] first = ArrayPool<byte>.Shared.Rent(SniffBytes);
        try
        {
            client.NoDelay = true;
            var remote = (IPEndPoint)client.RemoteEndPoint!;
            var local = (IPEndPoint)client.LocalEndPoint!;
            var key = KeyFor(IpProtocol.Tcp, Unmap(remote.Address), (ushort)remote.Port, Unmap(local.Address));
            // The first bytes, for a sniff rule; they are replayed to the session.
            int have;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                timeout.CancelAfter(_tcpIdle);
                have = await ReadFirstAsync(client, first, timeout.Token);
            }
            if (have == 0) return;
            if (Route(key, have > 2 ? first.AsSpan(2, have - 2) : default) is not { } querier) return;
            using var stream = new NetworkStream(client, ownsSocket: false);
            await DnsStreamSession.ServeAsync(_server, new PrefixedStream(stream, first, have), stream, querier, _tcpIdle, _stop.Token);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(first);
            client.Dispose();
        }
    }

    private static async Task<int> ReadFirstAsync(Socket client, byte[] buffer, CancellationToken ct)
    {
        int have = 0;
        try
        {
            while (have < SniffBytes)
            {
                int n = await client.ReceiveAsync(buffer.AsMemory(have, SniffBytes - have), SocketFlags.None, ct);
                if (n == 0) break;
                have += n;
            }
        }
        catch (OperationCanceledException)
        {
            // a short first message (or a silent client): route on what arrived
        }
        return have;
    }

    internal static NetAddress Unmap(IPAddress address) =>
        NetAddress.FromIPAddress(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    public void Dispose()
    {
        _stop.Cancel();
        _udp?.Dispose();
        _tcp?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Inbound}: {Flow} => hijack-dns ({Rule})")]
    private static partial void LogHijacked(ILogger logger, string inbound, string flow, string rule);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Inbound}: {Flow} => {Lane} ({Rule}): a direct inbound only answers DNS (hijack-dns); dropped")]
    private static partial void LogNotHijacked(ILogger logger, string inbound, string flow, string lane, string rule);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Inbound}: accept failed: {Error}")]
    private static partial void LogAcceptFailed(ILogger logger, string inbound, SocketError error);
}
