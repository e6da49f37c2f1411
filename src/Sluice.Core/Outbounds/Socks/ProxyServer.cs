using System.Net;
using System.Net.Sockets;
using Sluice.Core.Configuration;
using Sluice.Packets;

namespace Sluice.Core.Outbounds.Socks;

/// <summary>An outbound that talks to one proxy server (groups probe it).</summary>
internal interface IProxyServerOutbound
{
    ProxyServer Server { get; }
}

/// <summary>A connection to the proxy server, and where it went (an address, or a name a detour was given).</summary>
internal readonly record struct ServerConnection(Stream Stream, Destination Server);

/// <summary>
/// The server a proxy outbound talks to (shadowsocks, socks, http share it):
/// 1. the server's name is resolved by its domain_resolver, else route.default_domain_resolver (both
///    through the engine's DNS server, cached for the answer's TTL), else the host's resolver;
/// 2. without a detour: a socket from the engine's <see cref="ISocketFactory"/> (it carries the fwmark,
///    leaves by the main table and passes the gate) with the dial fields, connected within connect_timeout;
/// 3. with a detour: the outbound of that tag (looked up at dial time) dials the server instead, TCP
///    and UDP alike; a name with no resolver configured is handed to the detour to resolve.
/// Errors name the protocol, the outbound tag and the server, so a log line says which lane failed.
/// </summary>
internal sealed class ProxyServer(string protocol, string tag, ProxyServerOptions options, OutboundContext context)
{
    /// <summary>An answer with TTL 0 is still kept this long, so a burst of connections makes one lookup.</summary>
    private static readonly TimeSpan MinimumCacheTime = TimeSpan.FromSeconds(1);

    /// <summary>RFC 2181 §8 caps TTLs at 2^31 - 1 s; a day is plenty and keeps the tick arithmetic small.</summary>
    private static readonly TimeSpan MaximumCacheTime = TimeSpan.FromDays(1);

    private readonly IPAddress? _literal = IPAddress.TryParse(options.Server.Trim('[', ']'), out var ip) ? ip : null;
    private CachedAddress? _cached;
    private string? _who;

    public string Host => options.Server;

    public ushort Port => options.Port;

    public DialOptions Dial => options.Dial;

    public override string ToString() => options.Server.Contains(':') ? $"[{options.Server}]:{options.Port}" : $"{options.Server}:{options.Port}";

    /// <summary>Prefix for messages: "shadowsocks \"ss-out\" (10.0.0.1:8388)".</summary>
    public string Who => _who ??= options.Detour is { } detour
        ? $"{protocol} \"{tag}\" ({this} via \"{detour}\")"
        : $"{protocol} \"{tag}\" ({this})"; // built once, not per connection

    /// <summary>The server's address (resolved as step 1 says, the host's resolver when none is configured).</summary>
    public async ValueTask<IPEndPoint> ResolveAsync(CancellationToken cancellationToken)
    {
        if (_literal is not null) return new IPEndPoint(_literal, options.Port);
        if (await ResolveConfiguredAsync(cancellationToken) is { } configured) return new IPEndPoint(configured, options.Port);
        try
        {
            var addresses = await context.Sockets.Hosts.ResolveAsync(options.Server, cancellationToken);
            var chosen = HostAddresses.Choose(addresses, Strategy)
                ?? throw new OutboundException($"{Who}: {HostAddresses.NoAddress($"server name {options.Server}", Strategy)}");
            return new IPEndPoint(chosen, options.Port);
        }
        catch (SocketException e)
        {
            throw new OutboundException($"{Who}: cannot resolve server name {options.Server}: {e.SocketErrorCode}", e);
        }
        catch (Dns.DnsLookupException e)
        {
            throw new OutboundException($"{Who}: {e.Message}", e); // the engine's resolver (auto_route): names the DNS server and why
        }
    }

    /// <summary>The outbound's domain_resolver strategy (or deprecated domain_strategy); without a resolver of its own, route.default_domain_resolver's.</summary>
    private Dns.DnsStrategy? Strategy => options.DomainStrategy ?? (options.DomainResolver is null ? context.Names?.DefaultStrategy : null);

    /// <summary>" to ADDRESS:PORT" when the server is a name (which of its addresses was dialed), else "" (Who has it).</summary>
    private string To(IPEndPoint endpoint) => _literal is null ? $" to {endpoint}" : "";

    /// <summary>The address from the configured DNS server (cached for the answer's TTL); null when no resolver is configured.</summary>
    private async ValueTask<IPAddress?> ResolveConfiguredAsync(CancellationToken cancellationToken)
    {
        var names = context.Names;
        if (names is null || !names.Covers(options.DomainResolver)) return null;
        if (_cached is { } cached && Environment.TickCount64 < cached.ExpiresAt) return cached.Address;
        ResolvedHost resolved;
        try
        {
            resolved = await names.ResolveAsync(options.DomainResolver, options.Server, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutboundException)
        {
            throw new OutboundException($"{Who}: {e.Message}", e);
        }
        var chosen = HostAddresses.Choose(resolved.Addresses, Strategy)
            ?? throw new OutboundException($"{Who}: {HostAddresses.NoAddress($"server name {options.Server}", Strategy)}");
        var keep = resolved.Ttl < MinimumCacheTime ? MinimumCacheTime : resolved.Ttl > MaximumCacheTime ? MaximumCacheTime : resolved.Ttl;
        _cached = new CachedAddress(chosen, Environment.TickCount64 + (long)keep.TotalMilliseconds);
        return chosen;
    }

    /// <summary>What a detour is asked to dial: the address when we can resolve it, else the name.</summary>
    private async ValueTask<Destination> DetourTargetAsync(IOutbound detour, ushort port, CancellationToken cancellationToken)
    {
        if (_literal is not null) return new Destination(NetAddress.FromIPAddress(_literal), port);
        if (await ResolveConfiguredAsync(cancellationToken) is { } configured) return new Destination(NetAddress.FromIPAddress(configured), port);
        // No resolver configured: the far side resolves it (a name only it knows works), or the host
        // does when the detour cannot take names (direct, WireGuard).
        return await NameResolution.ForOutboundAsync(detour, new Destination(default, port, options.Server), context.Sockets.Hosts, cancellationToken);
    }

    private IOutbound? Detour()
    {
        if (options.Detour is not { } detourTag) return null;
        return context.Resolve?.Invoke(detourTag) ?? throw new OutboundException($"{Who}: detour outbound \"{detourTag}\" does not exist");
    }

    /// <summary>A connection to the server: a marked, connected socket's stream, or a stream through the detour.</summary>
    public async ValueTask<ServerConnection> ConnectTcpAsync(CancellationToken cancellationToken)
    {
        if (Detour() is { } detour)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(options.Dial.ConnectTimeout);
            Destination? target = null; // set once the server's name is resolved: a resolver's error already names this outbound
            try
            {
                target = await DetourTargetAsync(detour, options.Port, limit.Token);
                return new ServerConnection(await detour.DialTcpAsync(target.Value, limit.Token), target.Value);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new OutboundException($"{Who}: connect through \"{detour.Tag}\" timed out after {options.Dial.ConnectTimeout.TotalSeconds:0.#} s");
            }
            catch (OutboundException e) when (target is not null)
            {
                throw new OutboundException($"{Who}: through detour \"{detour.Tag}\": {e.Message}", e);
            }
        }
        var endpoint = await ResolveAsync(cancellationToken);
        var socket = context.Sockets.CreateTcp(endpoint.AddressFamily, options.Dial);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.Dial.ConnectTimeout);
            await socket.ConnectAsync(endpoint, timeout.Token); // TCP_NODELAY is set by the socket factory and survives connect
            return new ServerConnection(new NetworkStream(socket, ownsSocket: true), new Destination(NetAddress.FromIPAddress(endpoint.Address), options.Port));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new OutboundException($"{Who}: connect{To(endpoint)} timed out after {options.Dial.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new OutboundException($"{Who}: connect{To(endpoint)} failed: {e.SocketErrorCode}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// For groups' health checks: the TCP connect latency to the server (the socket is marked like any
    /// other), or with a detour the time to get a connected stream through it.
    /// </summary>
    public async ValueTask<TimeSpan> ProbeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (options.Detour is not null)
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(timeout);
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                var connection = await ConnectTcpAsync(bounded.Token);
                var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(start);
                StreamEnds.Abort(connection.Stream);
                return elapsed;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new OutboundException($"{Who}: no connection through the detour within {timeout.TotalSeconds:0.#} s");
            }
        }
        var endpoint = await ResolveAsync(cancellationToken);
        using var socket = context.Sockets.CreateTcp(endpoint.AddressFamily, options.Dial);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await socket.ConnectAsync(endpoint, limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException($"{Who}: no TCP answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            throw new OutboundException($"{Who}: {e.SocketErrorCode}", e);
        }
        return System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }

    /// <summary>
    /// A datagram channel to <paramref name="relay"/> (a SOCKS relay), or to the server when null: a
    /// marked UDP socket, or the detour's UDP.
    /// </summary>
    public async ValueTask<IUdpChannel> OpenUdpAsync(Destination? relay, CancellationToken cancellationToken)
    {
        if (Detour() is { } detour)
        {
            var target = relay ?? await DetourTargetAsync(detour, options.Port, cancellationToken); // its errors name this outbound
            try
            {
                return await detour.OpenUdpAsync(target, cancellationToken);
            }
            catch (OutboundException e)
            {
                throw new OutboundException($"{Who}: through detour \"{detour.Tag}\": {e.Message}", e);
            }
        }
        if (relay is { Domain: { } relayName }) throw new OutboundException($"{Who}: the server names its UDP relay {relayName}; only a relay address is supported");
        var endpoint = relay is { } r ? new IPEndPoint(r.Address.ToIPAddress(), r.Port) : await ResolveAsync(cancellationToken);
        var socket = context.Sockets.CreateUdp(endpoint.AddressFamily, options.Dial);
        try
        {
            socket.Connect(endpoint);
            return new Direct.ConnectedUdpChannel(socket);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new OutboundException($"{Who}: UDP to {endpoint} failed: {e.SocketErrorCode}", e);
        }
    }

    private sealed record CachedAddress(IPAddress Address, long ExpiresAt);
}
