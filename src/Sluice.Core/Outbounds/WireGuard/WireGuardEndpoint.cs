using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Stack;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// The WireGuard L3 lane: drives the protocol core (<see cref="WireGuardDevice"/>, no I/O) with a
/// marked UDP socket and three threads:
/// 1. packet thread (caller of <see cref="Send"/>): SNAT the app packet to the tunnel address, clamp
///    a SYN's MSS to the tunnel MTU, encrypt in place in the batch slot, queue the datagram there; at the
///    end of the TUN batch <see cref="Flush"/> sends the queue with one batched send (UDP GSO);
/// 2. receive thread: many datagrams per receive (UDP GRO), decrypt each in place, DNAT back to the
///    app's address, write to the TUN;
/// 3. timer thread: sleeps until the earliest armed timer (woken at once to stop, to force a handshake, or
///    when traffic arms an earlier timer), then runs handshake retries, keepalives, queued packets after a handshake.
/// A packet larger than the tunnel MTU is answered with ICMP "packet too big" (TCP never gets there:
/// its MSS is clamped both ways).
/// </summary>
public sealed partial class WireGuardEndpoint : IOutbound, IPacketLane
{
    private const int ReceiveHeadroom = 64;
    // The timer thread sleeps until the earliest armed timer, at least this long (see TimerSleep).
    private static readonly TimeSpan MinTimerSleep = TimeSpan.FromMilliseconds(100);

    private readonly WireGuardEndpointOptions _options;
    private readonly ISocketFactory _sockets;
    private readonly PacketCipherFactory? _packetCiphers;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly NetAddress? _tunnelV4;
    private readonly NetAddress? _tunnelV6;
    private readonly ConcurrentDictionary<FlowKey, L3Flow> _byTunnelKey = new();
    private readonly object _timerLock = new();
    private readonly byte[] _tooBigScratch = new byte[1400];
    private readonly DropWarnings _warnings;
    private WireGuardDevice? _device;
    private Socket? _socket;
    private IDatagramBatchIo? _batchIo;
    private ITunDevice? _tun;
    private TunAttachment? _attachment;
    private Thread? _receiver;
    private Thread? _timer;
    // Some peer stamps "reserved" bytes: received datagrams get bytes 1..3 cleared before they are parsed.
    private bool _clearsReserved;

    private volatile bool _stopping;
    private volatile bool _drainPending;
    private readonly ManualResetEventSlim _timerWake = new(false, spinCount: 0); // no spinning before each sleep: an idle wake-up is one context switch

    /// <param name="packetCiphers">The transport AEAD (<see cref="EnginePlatform.PacketCiphers"/>); null: the runtime's.</param>
    public WireGuardEndpoint(WireGuardEndpointOptions options, ISocketFactory sockets, ILogger logger, TimeProvider? time = null, PacketCipherFactory? packetCiphers = null)
    {
        _options = options;
        _packetCiphers = packetCiphers;
        _time = time ?? TimeProvider.System;
        _sockets = sockets;
        _logger = logger;
        _warnings = new DropWarnings(logger, options.Tag, _time);
        foreach (var prefix in options.Address)
        {
            if (prefix.IsV4) _tunnelV4 ??= prefix.Address;
            else _tunnelV6 ??= prefix.Address;
        }
    }

    public string Tag => _options.Tag;

    public string Type => "wireguard";

    public int Mtu => _options.Mtu;

    public IReadOnlyList<WireGuardPeer> Peers => _device?.Peers ?? [];

    /// <summary>Creates the protocol core and the socket, and starts the receive and timer threads.</summary>
    public void Start(ITunDevice tun, TunAttachment attachment)
    {
        _tun = tun;
        _attachment = attachment;
        var peers = new List<WireGuardPeerConfig>();
        for (int i = 0; i < _options.Peers.Count; i++)
        {
            var peer = _options.Peers[i];
            IPEndPoint? endpoint = peer.Host is null ? null : new IPEndPoint(Resolve(peer.Host), peer.Port);
            string name = peer.Host is null ? $"peer {i}" : $"peer {i} ({peer.Host}:{peer.Port})";
            peers.Add(new WireGuardPeerConfig(
                WireGuardKeys.ParseKey(peer.PublicKey, $"{Tag} peer {i} public_key"),
                peer.PreSharedKey is null ? null : WireGuardKeys.ParseKey(peer.PreSharedKey, $"{Tag} peer {i} pre_shared_key"),
                endpoint, peer.AllowedIps, peer.PersistentKeepalive, name) { Reserved = peer.Reserved });
        }
        _device = new WireGuardDevice(WireGuardKeys.ParseKey(_options.PrivateKey, $"{Tag} private_key"), peers, _time, _packetCiphers);
        _clearsReserved = peers.Any(p => p.Reserved is not null);
        _device.TimerArmedEarlier += () => _timerWake.Set();
        _device.HandshakeCompleted += peer =>
        {
            _drainPending = true;
            LogHandshake(_logger, Tag, peer.Name, peer.Endpoint?.ToString() ?? "?", peer.RxBytes, peer.TxBytes);
        };
        _socket = OpenSocket();
        _batchIo = _sockets.CreateBatchIo(_socket);
        LogListening(_logger, Tag, ((IPEndPoint)_socket.LocalEndPoint!).Port, _options.Peers.Count, _options.Mtu);
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = $"wg-{Tag}-rx" };
        _timer = new Thread(TimerLoop) { IsBackground = true, Name = $"wg-{Tag}-timer" };
        _receiver.Start();
        _timer.Start();
    }

    private Socket OpenSocket()
    {
        int port = _options.ListenPort ?? 0;
        try
        {
            var socket = _sockets.CreateUdp(AddressFamily.InterNetworkV6);
            socket.DualMode = true;
            socket.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
            return socket;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable)
        {
            // A host without IPv6: a plain IPv4 socket.
            var socket = _sockets.CreateUdp(AddressFamily.InterNetwork);
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return socket;
        }
    }

    private IPAddress Resolve(string host)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip;
        // Once, at start, off the packet path: blocking on the host's resolver is what wg-quick does too.
        var addresses = _sockets.Hosts.ResolveAsync(host, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return HostAddresses.Preferred(addresses)
            ?? throw new InvalidOperationException($"cannot resolve WireGuard peer {host}");
    }

    public L3Flow? Open(in FlowKey appKey, NetAddress? realDestination = null)
    {
        NetAddress? tunnel = appKey.IsV4 ? _tunnelV4 : _tunnelV6;
        if (tunnel is null || (realDestination is { } real && real.IsV4 != appKey.IsV4)) return null;
        var tunnelKey = appKey with { Source = tunnel.Value, Destination = realDestination ?? appKey.Destination };
        var flow = new L3Flow(appKey, tunnelKey, this, _time.Milliseconds());
        _byTunnelKey[tunnelKey] = flow;
        return flow;
    }

    public void Forget(L3Flow flow) =>
        _byTunnelKey.TryRemove(new KeyValuePair<FlowKey, L3Flow>(flow.TunnelKey, flow));

    public void Send(L3Flow flow, Span<byte> slot, int offset, int length)
    {
        var device = _device;
        if (device is null || _stopping) return;
        var packet = slot.Slice(offset, length);
        if (!IpPacket.TryParse(packet, out var ip)) return;
        long stamp = _time.GetTimestamp(); // one clock read per packet, for the flow and the device
        flow.LastSeen = _time.Milliseconds(stamp);
        if (length > _options.Mtu)
        {
            int n = PacketBuilder.PacketTooBig(_tooBigScratch, ip, _options.Mtu);
            if (n > 0) _tun!.Write(_tooBigScratch.AsSpan(0, n));
            return;
        }
        var key = flow.TunnelKey;
        if (!Rewrite(packet, ip.Protocol, key.Source, key.SourcePort, key.Destination, key.DestinationPort)) return;
        if (ip.Protocol == IpProtocol.Tcp) PacketRewriter.ClampTcpMss(packet, MaxMss(ip.IsV4));

        var result = device.Encapsulate(slot, offset, length, device.TimeOf(stamp));
        if (result.Kind == WgResultKind.SendDatagram) QueueDatagram(slot, result);
        else if (result.Kind == WgResultKind.Dropped) _warnings.Warn(result);
    }

    private ushort MaxMss(bool v4) => (ushort)(_options.Mtu - (v4 ? 40 : 60));

    private static bool Rewrite(Span<byte> packet, byte protocol, NetAddress source, ushort sourcePort, NetAddress destination, ushort destinationPort) =>
        protocol is IpProtocol.Tcp or IpProtocol.Udp
            ? PacketRewriter.RewriteTcpUdp(packet, source, sourcePort, destination, destinationPort)
            : PacketRewriter.RewriteIcmpEcho(packet, source, destination, sourcePort);

    /// <summary>
    /// The peer's "reserved" bytes over bytes 1..3 of a datagram ready to send: after the MACs, as sing-box does,
    /// so the receiver clears them before it checks anything.
    /// </summary>
    private static void StampReserved(Span<byte> datagram, WireGuardPeer? peer)
    {
        if (peer?.Reserved is { } reserved && datagram.Length >= 4) reserved.CopyTo(datagram[1..]);
    }

    private void SendDatagram(Span<byte> buffer, in WgResult result)
    {
        // Destination, not Peer.Endpoint: a cookie reply goes to an unauthenticated sender.
        var endpoint = result.Destination;
        if (endpoint is null || _socket is null) return;
        StampReserved(buffer.Slice(result.Offset, result.Length), result.Peer);
        try
        {
            _socket.SendTo(buffer.Slice(result.Offset, result.Length), SocketFlags.None, ToSocketAddress(endpoint));
        }
        catch (SocketException e)
        {
            _warnings.Warn($"send to {endpoint} failed: {e.SocketErrorCode}");
        }
        catch (ObjectDisposedException)
        {
        }
    }

    // One SocketAddress per endpoint object, so sending does not serialize an EndPoint per packet.
    // Several threads send; the pair is swapped as one object.
    private sealed record CachedAddress(IPEndPoint Endpoint, SocketAddress Address);

    private volatile CachedAddress? _cachedAddress;

    private SocketAddress ToSocketAddress(IPEndPoint endpoint)
    {
        var cached = _cachedAddress;
        if (cached is not null && ReferenceEquals(cached.Endpoint, endpoint)) return cached.Address;
        var target = _socket!.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(endpoint.Address.MapToIPv6(), endpoint.Port)
            : endpoint;
        var address = target.Serialize();
        _cachedAddress = new CachedAddress(endpoint, address);
        return address;
    }

    private void ReceiveLoop()
    {
        if (_batchIo is { } io)
        {
            ReceiveBatches(io);
            return;
        }
        byte[] buffer = GC.AllocateUninitializedArray<byte>(ReceiveHeadroom + 65536, pinned: true);
        var from = new SocketAddress(_socket!.AddressFamily);
        SocketAddress? lastFrom = null;
        IPEndPoint? lastEndpoint = null;
        while (!_stopping)
        {
            int n;
            try
            {
                n = _socket.ReceiveFrom(buffer.AsSpan(ReceiveHeadroom), SocketFlags.None, from);
            }
            catch (Exception) when (_stopping)
            {
                return;
            }
            catch (SocketException e)
            {
                // ICMP errors for earlier sends surface here (ECONNREFUSED); keep receiving.
                if (e.SocketErrorCode is not (SocketError.ConnectionRefused or SocketError.ConnectionReset)) _warnings.Warn($"receive failed: {e.SocketErrorCode}");
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            var endpoint = Sender(from, ref lastFrom, ref lastEndpoint);
            HandleDatagram(buffer, ReceiveHeadroom, n, endpoint, buffer);
        }
    }

    /// <summary>The sender as an endpoint; a new object only when it differs from the previous datagram's.</summary>
    private static IPEndPoint Sender(SocketAddress from, ref SocketAddress? lastFrom, ref IPEndPoint? lastEndpoint)
    {
        if (lastEndpoint is not null && from.Equals(lastFrom)) return lastEndpoint;
        lastFrom = new SocketAddress(from.Family, from.Size);
        from.Buffer.CopyTo(lastFrom.Buffer);
        var ep = (IPEndPoint)new IPEndPoint(IPAddress.IPv6Any, 0).Create(from);
        lastEndpoint = ep.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(ep.Address.MapToIPv4(), ep.Port) : ep;
        return lastEndpoint;
    }

    /// <summary>
    /// Handles the datagram at buffer[offset..offset+length] in place. <paramref name="drainBuffer"/> is where
    /// packets released by a finished handshake are encrypted (at its start, so never over a received datagram).
    /// </summary>
    private void HandleDatagram(byte[] buffer, int offset, int length, IPEndPoint from, byte[] drainBuffer)
    {
        var device = _device!;
        // A peer that stamps "reserved" bytes (WARP) may send them back; the MACs were computed over zeros.
        if (_clearsReserved && length >= 4) buffer.AsSpan(offset + 1, 3).Clear();
        long stamp = _time.GetTimestamp(); // one clock read per datagram, for the device and the flow
        var result = device.Decapsulate(buffer, offset, length, from, device.TimeOf(stamp));
        switch (result.Kind)
        {
            case WgResultKind.WriteTun:
                if (!DeliverToApp(buffer.AsSpan(result.Offset, result.Length), _time.Milliseconds(stamp))) break;
                if (buffer == _tunQueueBuffer) QueueForTun(result.Offset, result.Length);
                else _tun!.Write(buffer.AsSpan(result.Offset, result.Length));
                break;
            case WgResultKind.SendDatagram:
                SendDatagram(buffer, result);
                break;
            case WgResultKind.Dropped:
                _warnings.Warn(result);
                break;
        }
        if (_drainPending) DrainAndTick(drainBuffer);
    }

    /// <summary>DNAT a decrypted packet back to the app that opened its flow; false when it has none (dropped).</summary>
    private bool DeliverToApp(Span<byte> packet, long nowMs)
    {
        if (!IpPacket.TryParse(packet, out var ip) || !FlowKeys.TryGetFlowKey(ip, out var key)) return false;
        // ICMP echo replies keep the identifier in both port fields, so the reverse key matches the request's.
        if (!_byTunnelKey.TryGetValue(key.Reverse(), out var flow) && (flow = AcceptInbound(key, ip)) is null) return false;
        flow.LastSeen = nowMs;
        if (ip.Protocol == IpProtocol.Tcp) flow.NoteTcp(ip, fromApp: false);
        flow.Connection?.AddDownload(packet.Length);
        var app = flow.AppKey;
        if (!Rewrite(packet, ip.Protocol, app.Destination, app.DestinationPort, app.Source, app.SourcePort)) return false;
        if (ip.Protocol == IpProtocol.Tcp) PacketRewriter.ClampTcpMss(packet, MaxMss(ip.IsV4));
        return true;
    }

    private void TimerLoop()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(ReceiveHeadroom + 65536 + 64, pinned: true);
        var device = _device!;
        while (!_stopping)
        {
            device.TimerThreadAwake();
            DrainAndTick(buffer);
            _timerWake.Reset(); // a timer armed after this is seen below, or wakes the wait (WireGuardDevice.TimerArmedEarlier)
            long now = device.Now();
            var sleep = TimerSleep(device.NextTimerDue(), now);
            device.TimerThreadSleepsUntil(sleep == Timeout.InfiniteTimeSpan ? long.MaxValue : now + sleep.Ticks);
            if (_stopping) return; // Dispose's Set may have come before the Reset above
            _timerWake.Wait(sleep);
            if (_stopping) return;
        }
    }

    /// <summary>
    /// How long the timer thread sleeps: until the earliest armed timer, but at least 100 ms (a timer whose
    /// action cannot go yet must not spin), and until woken when none is armed. No look-ahead: a timer the
    /// data path arms earlier than the sleep's end wakes the thread (<see cref="WireGuardDevice.TimerArmedEarlier"/>),
    /// so an idle tunnel wakes only for its own deadlines: keepalive, new handshake, key zeroing (issue #19).
    /// </summary>
    internal static TimeSpan TimerSleep(long due, long now) =>
        due == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromTicks(Math.Max(due - now, MinTimerSleep.Ticks));

    /// <summary>Sends what timers and finished handshakes released. Serialized: the core's queue and timers are not re-entrant.</summary>
    private void DrainAndTick(byte[] buffer)
    {
        lock (_timerLock)
        {
            _drainPending = false;
            var device = _device!;
            for (var r = device.DrainQueued(buffer); r.Kind != WgResultKind.None; r = device.DrainQueued(buffer))
                if (r.Kind == WgResultKind.SendDatagram) SendDatagram(buffer, r);
            for (var r = device.Tick(buffer); r.Kind != WgResultKind.None; r = device.Tick(buffer))
            {
                if (r.Kind == WgResultKind.SendDatagram) SendDatagram(buffer, r);
                else if (r.Kind == WgResultKind.Dropped) _warnings.Warn(r);
            }
        }
    }

    /// <summary>Makes every peer handshake again (the network changed, or a test forces a rekey).</summary>
    public void ForceHandshake()
    {
        lock (_timerLock) _device?.ForceHandshake();
        _timerWake.Set();
    }

    public void Dispose()
    {
        _stopping = true;
        _timerWake.Set();
        _batchIo?.Dispose();
        _socket?.Dispose();
        _receiver?.Join(TimeSpan.FromSeconds(1));
        _timer?.Join(TimeSpan.FromSeconds(1));
        foreach (var peer in Peers)
            LogPeerTotals(_logger, Tag, peer.Name, peer.LastHandshake?.ToString("u") ?? "never", peer.RxBytes, peer.TxBytes);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Tag}: listening on UDP port {Port}, {Peers} peer(s), mtu {Mtu}")]
    private static partial void LogListening(ILogger logger, string tag, int port, int peers, int mtu);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Tag}: handshake with {Peer} at {Endpoint} complete (rx {Rx} B, tx {Tx} B so far)")]
    private static partial void LogHandshake(ILogger logger, string tag, string peer, string endpoint, long rx, long tx);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Tag}: {Peer}: last handshake {Handshake}, rx {Rx} B, tx {Tx} B")]
    private static partial void LogPeerTotals(ILogger logger, string tag, string peer, string handshake, long rx, long tx);
}
