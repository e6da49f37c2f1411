using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Core.Outbounds;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// ICMP echo on the direct lane is answered for real:
/// 1. the app's echo request is re-sent from a marked ICMP socket with the same identifier and sequence;
/// 2. the socket's receive loop matches echo replies by (destination, identifier, sequence);
/// 3. the reply is rebuilt as an IP packet from the destination to the app and written to the TUN.
/// Requests wait at most <see cref="EngineLimits.IcmpIdle"/> for their reply.
/// </summary>
internal sealed partial class IcmpEchoRelay : IDisposable
{
    private readonly ITunDevice _tun;
    private readonly TimeProvider _time;
    private readonly long _pendingMs;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly bool _v4;
    private readonly ConcurrentDictionary<(NetAddress Target, ushort Id, ushort Seq), (NetAddress App, long At)> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _sendScratch = new byte[65536];

    public IcmpEchoRelay(ITunDevice tun, ISocketFactory sockets, bool v4, ILogger logger, TimeProvider time, TimeSpan pendingTimeout)
    {
        _tun = tun;
        _time = time;
        _pendingMs = (long)pendingTimeout.TotalMilliseconds;
        _logger = logger;
        _v4 = v4;
        _socket = sockets.CreateIcmp(v4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6);
    }

    public void Start() => _ = ReceiveLoopAsync();

    /// <summary>Relays one echo request read from the TUN (packet thread).</summary>
    public void OnEchoRequest(in IpPacket packet, in IcmpMessage echo)
    {
        var target = packet.Destination;
        _pending[(target, echo.Identifier, echo.SequenceNumber)] = (packet.Source, _time.Milliseconds());
        // Build the same request addressed from us; the kernel adds the IP header of a raw socket.
        int length = PacketBuilder.IcmpEcho(_sendScratch, reply: false, packet.Source, target, echo.Identifier, echo.SequenceNumber, echo.Payload);
        int headerLength = _v4 ? 20 : 40;
        try
        {
            _socket.SendTo(_sendScratch.AsSpan(headerLength, length - headerLength), SocketFlags.None, new IPEndPoint(target.ToIPAddress(), 0));
        }
        catch (SocketException e)
        {
            LogSendFailed(_logger, target.ToString(), e.SocketErrorCode);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(65536, pinned: true);
        byte[] packetOut = GC.AllocateUninitializedArray<byte>(65536 + 64, pinned: true);
        EndPoint any = new IPEndPoint(_v4 ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            var from = NetAddress.FromIPAddress(((IPEndPoint)received.RemoteEndPoint).Address);
            Span<byte> message = buffer.AsSpan(0, received.ReceivedBytes);
            if (_v4)
            {
                // A raw IPv4 socket hands over the IP header too.
                if (!IpPacket.TryParse(message, out var ip)) continue;
                message = ip.Payload;
            }
            if (!IcmpMessage.TryParse(message, out var icmp) || !icmp.IsEchoReply) continue;
            if (!_pending.TryRemove((from, icmp.Identifier, icmp.SequenceNumber), out var waiting)) continue;
            int length = PacketBuilder.IcmpEcho(packetOut, reply: true, from, waiting.App, icmp.Identifier, icmp.SequenceNumber, icmp.Payload);
            _tun.Write(packetOut.AsSpan(0, length));
        }
    }

    public void Sweep(long now)
    {
        long next = long.MaxValue;
        foreach (var (key, value) in _pending)
        {
            if (now - value.At > _pendingMs) _pending.TryRemove(key, out _);
            else next = Math.Min(next, value.At + _pendingMs);
        }
        NextExpiry = next;
    }

    /// <summary>When the earliest echo left waiting by the last <see cref="Sweep"/> is given up (engine ms); MaxValue when none.</summary>
    public long NextExpiry { get; private set; } = long.MaxValue;

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "echo request to {Target} not sent: {Error}")]
    private static partial void LogSendFailed(ILogger logger, string target, SocketError error);
}
