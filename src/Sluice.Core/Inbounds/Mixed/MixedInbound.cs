using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// SOCKS (5, 4 and 4a) and HTTP proxy on one port, so apps and benchmarks can use the lanes without the TUN:
/// 1. the first byte tells the protocol: 0x05 is SOCKS5, 0x04 SOCKS4/4a, anything else an HTTP request (a "socks"
///    or "http" inbound takes only its own);
/// 2. the protocol's handshake yields a destination (an address, or a name the outbound resolves);
/// 3. the flow is routed by the same rules as TUN flows (inbound = this tag, network tcp/udp);
/// 4. the outbound is dialed; success is answered, then bytes are relayed both ways with half-close.
/// SOCKS5 UDP ASSOCIATE opens one UDP relay socket per association (see <see cref="SocksUdpAssociation"/>).
/// </summary>
internal sealed partial class MixedInbound : ILocalInbound
{
    private readonly MixedInboundOptions _options;
    private readonly FlowAdmission _admission;
    private readonly Func<FlowKey, ProcessInfo?>? _lookup;
    private readonly IHostResolver _hosts;
    private readonly ISocketFactory _sockets;
    private readonly RelayBuffers _relayBuffers;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly IPEndPoint _bound;
    private readonly CancellationTokenSource _stop = new();

    /// <param name="sockets">The platform's socket options for the connections it accepts (keep-alive).</param>
    public MixedInbound(MixedInboundOptions options, FlowAdmission admission, Func<FlowKey, ProcessInfo?>? lookup, IHostResolver hosts, ISocketFactory sockets,
        RelayBuffers relayBuffers, ILogger logger)
    {
        _sockets = sockets;
        _options = options;
        _relayBuffers = relayBuffers;
        _hosts = hosts;
        _admission = admission;
        _lookup = lookup;
        _logger = logger;
        _listener = new Socket(options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            _listener.Bind(new IPEndPoint(options.Listen, options.ListenPort));
        }
        catch (SocketException e)
        {
            _listener.Dispose();
            throw new InvalidOperationException($"mixed inbound \"{options.Tag}\": cannot listen on {Endpoint}: {e.SocketErrorCode} (is another program using the port?)", e);
        }
        _listener.Listen(1024);
        _bound = (IPEndPoint)_listener.LocalEndPoint!;
    }

    public string Tag => _options.Tag;

    public string Endpoint => new IPEndPoint(_options.Listen, _options.ListenPort).ToString();

    /// <summary>Where the listener is bound (the actual port when listen_port is 0).</summary>
    internal IPEndPoint BoundEndPoint => _bound;

    internal ILogger Logger => _logger;

    /// <summary>The host's resolver, for request names an outbound cannot take (see <see cref="NameResolution"/>).</summary>
    internal IHostResolver Hosts => _hosts;

    internal IReadOnlyList<ProxyUser> Users => _options.Users;

    /// <summary>Whether a user of <see cref="Users"/> has this name and password; compared in constant time, every user tried.</summary>
    internal bool Accepts(string user, string password)
    {
        bool ok = false;
        foreach (var u in Users) ok |= FixedEquals(u.Username, user) & FixedEquals(u.Password, password);
        return ok;

        static bool FixedEquals(string a, string b) =>
            System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(a), System.Text.Encoding.UTF8.GetBytes(b));
    }

    internal CancellationToken Stopping => _stop.Token;

    public void Start() => _ = AcceptLoopAsync();

    private Task AcceptLoopAsync() =>
        AcceptLoop.RunAsync(_listener, HandleAsync, error => LogAcceptFailed(_logger, _options.Tag, error), _stop.Token);

    private async Task HandleAsync(Socket client)
    {
        try
        {
            client.NoDelay = true;
            _sockets.TuneAccepted(client, _options.KeepAlive);
            // The first receive already holds the greeting (or the start of an HTTP request); its
            // first byte tells the protocol.
            byte[] first = new byte[HandshakeReader.BufferSize];
            int n = await client.ReceiveAsync(first, SocketFlags.None, _stop.Token);
            if (n == 0) return;
            var protocols = _options.Protocols;
            bool socks = protocols.HasFlag(ProxyProtocols.Socks);
            if (socks && first[0] == 5) await new SocksSession(this, client, new HandshakeReader(client, first, n, _stop.Token)).RunAsync();
            else if (socks && first[0] == 4) await new Socks4Session(this, client, new HandshakeReader(client, first, n, _stop.Token)).RunAsync();
            else if (protocols.HasFlag(ProxyProtocols.Http)) await new HttpProxySession(this, client).RunAsync(first.AsMemory(0, n));
            else throw new ProxyProtocolException($"not a SOCKS greeting (first byte 0x{first[0]:x2}): this port speaks SOCKS4, SOCKS4a and SOCKS5 only");
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        catch (ProxyProtocolException e)
        {
            LogBadRequest(_logger, _options.Tag, client.RemoteEndPoint?.ToString() ?? "?", e.Message);
        }
        finally
        {
            client.Dispose();
        }
    }

    private FlowContext FlowFor(Socket client, byte protocol, Destination destination)
    {
        var source = (IPEndPoint)client.RemoteEndPoint!;
        var local = NetAddress.FromIPAddress(source.Address);
        var target = destination.Address == default ? (local.IsV4 ? NetAddress.FromV4(0) : NetAddress.FromBytes(new byte[16])) : destination.Address;
        var key = new FlowKey(protocol, local, (ushort)source.Port, target, destination.Port);
        // The app's socket is keyed by the address it dialed: the listener's own, unless it listens on a wildcard (a getsockname saved per connection).
        var listener = LocalInbounds.IsWildcard(_bound.Address) ? (IPEndPoint)client.LocalEndPoint! : _bound;
        var socketKey = new FlowKey(protocol == IpProtocol.Udp ? IpProtocol.Tcp : protocol, local, (ushort)source.Port,
            NetAddress.FromIPAddress(listener.Address), (ushort)listener.Port); // a UDP association's owner holds its control connection
        return new FlowContext(key, _options.Tag, _lookup, socketKey)
        {
            Domain = destination.Domain,
            Sniffed = destination.Domain is not null,
            DestinationIsName = destination.Domain is not null && destination.Address == default,
        };
    }

    /// <summary>
    /// Whether a UDP ASSOCIATE is refused up front (answered "not allowed by ruleset"): when the route has no rules,
    /// every UDP flow of this inbound takes the final lane, and a lane that carries TCP only refuses them all (counted
    /// and logged as the TUN's refusals are). With rules, some destinations may go elsewhere: each is judged by
    /// <see cref="RouteAsync"/> when its first datagram arrives.
    /// </summary>
    internal bool RefusesAssociation(Socket client, Destination declared)
    {
        if (_admission.Lanes.Model.Router.Describe().Count > 0) return false;
        var flow = FlowFor(client, IpProtocol.Udp, declared);
        var choice = _admission.Choose(flow);
        if (choice.Kind != LaneKind.Outbound || choice.Outbound!.CarriesUdp) return false;
        _admission.RefusedUdp(flow, choice.Outbound.Tag, OutboundGroup.CarrierTag(choice.Outbound), "the UDP ASSOCIATE is refused");
        return true;
    }

    /// <summary>Routes a request like a TUN flow; null when the rules refuse it, or send UDP to a lane that carries TCP only (logged).</summary>
    internal async Task<MixedRoute?> RouteAsync(Socket client, byte protocol, Destination destination)
    {
        var flow = FlowFor(client, protocol, destination);
        var choice = _admission.Choose(flow, stopAtResolve: true);
        // The proxy request already named the destination; a sniff rule has nothing more to learn.
        while (choice.Kind is LaneKind.NeedsSniff or LaneKind.NeedsResolve)
        {
            choice = choice.Kind == LaneKind.NeedsResolve
                ? await _admission.Lanes.ResolveAsync(flow, choice, CancellationToken.None)
                : _admission.Choose(flow, choice.Decision.ResumeAt, stopAtResolve: true);
        }
        if (choice.Kind != LaneKind.Outbound)
        {
            _admission.Refused(flow, choice);
            return null;
        }
        if (protocol == IpProtocol.Udp && !choice.Outbound!.CarriesUdp)
        {
            // As the TUN's UDP: a lane that carries TCP only refuses the flow, counted per lane, never sent another way.
            _admission.RefusedUdp(flow, choice.Outbound.Tag, OutboundGroup.CarrierTag(choice.Outbound),
                "its datagrams are dropped");
            return null;
        }
        _admission.Routed(flow, choice.Outbound!.Tag, choice.Decision);
        return new MixedRoute(choice.Outbound!, flow, choice.Decision.RuleIndex);
    }

    /// <summary>
    /// A SOCKS CONNECT: routed, answered as soon as the rules pick an outbound, before it dials (as ss-local does: the
    /// app's first bytes travel while the outbound connects, which saves a round of wake-ups per connection), dialed,
    /// relayed. A dial that fails then closes the connection with a reset (and a log line naming the reason), as the
    /// TUN path does, where the kernel has accepted the connection before any dial.
    /// </summary>
    /// <param name="answer">Sends the protocol's reply: granted, or refused by the rules.</param>
    internal async Task ConnectAsync(Socket client, Destination destination, Func<bool, Task> answer, HandshakeReader reader)
    {
        var route = await RouteAsync(client, IpProtocol.Tcp, destination);
        await answer(route is not null);
        if (route is null) return;
        var remote = await DialAsync(route.Outbound, route.Flow.Dialled(destination));
        if (remote is null)
        {
            StreamPump.Reset(client);
            return;
        }
        await using (remote)
            await RelayAsync(client, route, remote, reader.Pending);
    }

    /// <summary>
    /// Relays a dialed request both ways, listed among the engine's connections (with its byte counts)
    /// while it lasts, so `sluice connections` shows it and closing it there ends it.
    /// </summary>
    internal async Task RelayAsync(Socket client, MixedRoute route, Stream remote, ReadOnlyMemory<byte> firstUp)
    {
        var connection = Track(route, () =>
        {
            StreamPump.Reset(client);
            remote.Dispose();
        });
        try
        {
            await StreamPump.RunAsync(client, remote, _relayBuffers, firstUp, connection);
        }
        finally
        {
            Untrack(connection);
        }
    }

    /// <summary>Lists a dialed request among the engine's connections until <see cref="Untrack"/>; <paramref name="close"/> ends it from there.</summary>
    internal TrackedConnection Track(MixedRoute route, Action close) => _admission.Register(route.Flow, route.Outbound.Tag, route.RuleIndex, close);

    internal void Untrack(TrackedConnection connection) => _admission.Unregister(connection);

    /// <summary>Dials through the outbound, resolving a name here when the outbound cannot take names.</summary>
    internal async Task<Stream?> DialAsync(IOutbound outbound, Destination destination)
    {
        try
        {
            destination = await NameResolution.ForOutboundAsync(outbound, destination, _hosts, _stop.Token);
            return await outbound.DialTcpAsync(destination, _stop.Token);
        }
        catch (OutboundException e)
        {
            LogDialFailed(_logger, _options.Tag, destination.ToString(), outbound.Tag, e.Message);
            return null;
        }
    }

    internal void DialFailed(string destination, string outbound, string reason) => LogDialFailed(_logger, _options.Tag, destination, outbound, reason);

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Inbound}: {Destination} via {Outbound}: {Reason}")]
    private static partial void LogDialFailed(ILogger logger, string inbound, string destination, string outbound, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Inbound}: accept failed: {Error}")]
    private static partial void LogAcceptFailed(ILogger logger, string inbound, SocketError error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Inbound}: bad request from {Client}: {Reason}")]
    private static partial void LogBadRequest(ILogger logger, string inbound, string client, string reason);
}

/// <summary>Where the rules sent a proxy request, and the flow they judged.</summary>
internal sealed record MixedRoute(IOutbound Outbound, FlowContext Flow, int RuleIndex);

/// <summary>A client spoke the proxy protocol wrong; the message says how.</summary>
internal sealed class ProxyProtocolException(string message) : Exception(message);
