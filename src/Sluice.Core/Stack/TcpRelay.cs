using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Sniffing;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// The relay side of the system-stack NAT for one address family:
/// 1. a listener on the TUN address accepts the connections the NAT steers to it;
/// 2. the peer port of an accepted socket names the NAT entry, i.e. the app's original flow;
/// 3. when the rules want the first payload (sniff), it is read before dialing;
/// 4. the outbound is dialed; a refusal or failure closes the app's connection with a RST;
/// 5. bytes are pumped both ways with half-close, then the entry is marked closed.
/// </summary>
internal sealed partial class TcpRelay : IDisposable
{

    private readonly TcpNat _nat;
    private readonly FlowAdmission _admission;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();

    private readonly DnsHijack? _dns;
    private readonly EngineLimits _limits;
    private readonly TimeProvider _time;
    private readonly ISocketFactory _sockets;
    private readonly RelayBuffers _buffers;

    public TcpRelay(TcpNat nat, ISocketFactory sockets, FlowAdmission admission, DnsHijack? dns, ILogger logger,
        EngineLimits limits, TimeProvider time, RelayBuffers? buffers = null)
    {
        _limits = limits;
        _buffers = buffers ?? new RelayBuffers(limits);
        _time = time;
        _sockets = sockets;
        _dns = dns;
        _nat = nat;
        _admission = admission;
        _logger = logger;
        var tun = nat.TunAddress.ToIPAddress();
        // The address was just added to the TUN: the platform's listener may bind it before IPv6 DAD finishes.
        _listener = sockets.CreateTunListener(tun.AddressFamily);
        _listener.Bind(new IPEndPoint(tun, 0));
        _listener.Listen(4096);
        nat.ListenPort = (ushort)((IPEndPoint)_listener.LocalEndPoint!).Port;
    }

    /// <summary>Live relayed connections.</summary>
    public int Active => Volatile.Read(ref _active);

    private int _active;

    public void Start() => _ = AcceptLoopAsync();

    private Task AcceptLoopAsync() =>
        AcceptLoop.RunAsync(_listener, HandleAsync, error => LogAcceptFailed(_logger, error), _stop.Token);

    private async Task HandleAsync(Socket client)
    {
        Interlocked.Increment(ref _active);
        TcpNatEntry? entry = null;
        Stream? remote = null;
        byte[]? sniffed = null;
        int sniffedLength = 0;
        try
        {
            client.NoDelay = true;
            int natPort = ((IPEndPoint)client.RemoteEndPoint!).Port;
            entry = _nat.FindByPort((ushort)natPort);
            if (entry is null)
            {
                Reset(client);
                return;
            }

            entry.Accepted = true;
            var flow = entry.Flow;
            // The SYN-time decision stands as made; deciding again would repeat a process lookup.
            LaneChoice choice = entry.Decision is { } pre ? _admission.FromDecision(pre) : _admission.Choose(flow);
            while (choice.Kind is LaneKind.NeedsSniff or LaneKind.NeedsResolve)
            {
                if (choice.Kind == LaneKind.NeedsResolve)
                {
                    choice = await _admission.Lanes.ResolveAsync(flow, choice, _stop.Token);
                    continue;
                }
                sniffed ??= ArrayPool<byte>.Shared.Rent(_limits.SniffBytes);
                sniffedLength = await SniffAsync(client, flow, sniffed, sniffedLength, _limits.SniffBytes,
                    choice.Decision.SniffTimeout <= TimeSpan.Zero ? _limits.SniffTimeout : choice.Decision.SniffTimeout, _time);
                choice = _admission.Choose(flow, choice.Decision.ResumeAt, stopAtResolve: true);
            }

            var destination = new Destination(flow.Key.Destination, flow.Key.DestinationPort, flow.Domain);
            if (choice.Kind == LaneKind.HijackDns && _dns is not null)
            {
                _admission.Hijacked(flow);
                await _dns.ServeTcpAsync(client, flow, sniffed, sniffedLength);
                return;
            }
            if (choice.Kind != LaneKind.Outbound)
            {
                _admission.Refused(flow, choice);
                Reset(client);
                return;
            }

            var outbound = choice.Outbound!;
            if (_dns is not null && _dns.Map.IsFakeIp(destination.Address))
            {
                // fakeip: a proxy dials the name; the direct lane needs the real address behind it, also when a
                // group's member is the direct outbound (else it would dial the placeholder 0.0.0.0).
                NetAddress? real = Outbounds.Groups.OutboundGroup.Carrier(outbound) is Outbounds.Direct.DirectOutbound direct && flow.Domain is not null
                    ? await _dns.ResolveRealAsync(flow.Domain, destination.Address.IsV4, _stop.Token, direct.DomainStrategy)
                    : default(NetAddress);
                if (flow.Domain is null || real is null)
                {
                    Reset(client);
                    return;
                }
                destination = new Destination(real.Value, destination.Port, flow.Domain);
            }
            destination = flow.Dialled(destination);
            _admission.Routed(flow, outbound.Tag, choice.Decision);
            try
            {
                remote = await outbound.DialTcpAsync(destination, _stop.Token);
            }
            catch (OutboundException e)
            {
                LogDialFailed(_logger, flow.Key.ToString(), outbound.Tag, e.Message);
                Reset(client);
                return;
            }

            var dialed = remote;
            var connection = _admission.Register(flow, outbound.Tag, choice.Decision.RuleIndex, () =>
                {
                    Reset(client);
                    dialed.Dispose();
                });
            try
            {
                if (sniffed is not null)
                {
                    // The sniffed bytes leave first; their buffer goes back before the relay, which may idle for hours.
                    if (sniffedLength > 0)
                    {
                        await remote.WriteAsync(sniffed.AsMemory(0, sniffedLength));
                        connection.AddUpload(sniffedLength);
                    }
                    ArrayPool<byte>.Shared.Return(sniffed);
                    sniffed = null;
                }
                await StreamPump.RunAsync(client, remote, _buffers, connection: connection, sockets: _sockets);
            }
            finally
            {
                _admission.Unregister(connection);
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            Reset(client);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Nobody awaits this task: a failure not listed above (an outbound's bug) must still say so.
            LogRelayFailed(_logger, entry?.Flow.Key.ToString() ?? "accepted connection", e.GetType().Name, e.Message);
            Reset(client);
        }
        finally
        {
            if (sniffed is not null) ArrayPool<byte>.Shared.Return(sniffed);
            remote?.Dispose();
            client.Dispose();
            if (entry is not null) entry.ClosedAt = _time.Milliseconds();
            Interlocked.Decrement(ref _active);
        }

    }

    /// <summary>Reads the first payload until the sniffer knows the protocol, gives up, or times out.</summary>
    private static async Task<int> SniffAsync(Socket client, Routing.FlowContext flow, byte[] buffer, int have, int limit, TimeSpan timeout, TimeProvider time)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        try
        {
            while (have < limit)
            {
                int n = await client.ReceiveAsync(buffer.AsMemory(have, limit - have), SocketFlags.None, deadline.Token);
                if (n == 0) break;
                have += n;
                var result = Sniffer.Sniff(buffer.AsSpan(0, have));
                if (result.Status == SniffStatus.NeedMore) continue;
                if (result.Status == SniffStatus.Found)
                {
                    flow.Protocol = result.Protocol;
                    flow.Domain ??= result.Domain;
                }
                break;
            }
        }
        catch (OperationCanceledException)
        {
            // Server-speaks-first protocols send nothing; route without a domain.
        }
        flow.Sniffed = true;
        return have;
    }

    private static void Reset(Socket socket) => StreamPump.Reset(socket);

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: relay failed: {Error}: {Reason}")]
    private static partial void LogRelayFailed(ILogger logger, string flow, string error, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow} via {Outbound}: {Reason}; connection reset")]
    private static partial void LogDialFailed(ILogger logger, string flow, string outbound, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "relay accept failed: {Error}")]
    private static partial void LogAcceptFailed(ILogger logger, SocketError error);
}
