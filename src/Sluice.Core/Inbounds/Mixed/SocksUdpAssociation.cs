using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Socks;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// One SOCKS5 UDP association: a relay socket on the inbound's address. Each destination the client
/// sends to gets its own routed channel (like a TUN UDP session); answers come back with the SOCKS
/// header naming the destination they came from. Only the client's own address may use the relay.
/// </summary>
internal sealed class SocksUdpAssociation : IDisposable
{
    private readonly MixedInbound _inbound;
    private readonly Socket _control;
    private readonly Socket _relay;
    private readonly IPAddress _clientAddress;
    private readonly ConcurrentDictionary<Destination, Channel> _channels = new();
    private readonly CancellationTokenSource _stop;
    private EndPoint? _client;

    public SocksUdpAssociation(MixedInbound inbound, Socket control, IPAddress local)
    {
        _inbound = inbound;
        _control = control;
        _clientAddress = ((IPEndPoint)control.RemoteEndPoint!).Address;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(inbound.Stopping);
        _relay = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _relay.Bind(new IPEndPoint(local, 0));
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_relay.LocalEndPoint!;

    public void Start() => _ = ReceiveLoopAsync();

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(_clientAddress.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await _relay.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                var from = (IPEndPoint)result.RemoteEndPoint;
                if (!from.Address.Equals(_clientAddress)) continue;
                _client = from;
                int n = result.ReceivedBytes;
                if (n < 4 || buffer[2] != 0) continue; // fragments are not supported; dropped
                int header = SocksAddress.TryRead(buffer.AsSpan(3, n - 3), out var destination);
                if (header <= 0) continue;
                var payload = buffer.AsSpan(3 + header, n - 3 - header);
                if (_channels.TryGetValue(destination, out var channel))
                {
                    channel.Udp?.Send(payload);
                    continue;
                }
                channel = new Channel();
                if (!_channels.TryAdd(destination, channel)) continue;
                _ = OpenAsync(destination, channel, payload.ToArray());
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task OpenAsync(Destination destination, Channel channel, byte[] first)
    {
        var outbound = (await _inbound.RouteAsync(_control, IpProtocol.Udp, destination))?.Outbound;
        if (outbound is null) return; // refused: datagrams to it are dropped
        try
        {
            var resolved = await NameResolution.ForOutboundAsync(outbound, destination, _inbound.Hosts, _stop.Token);
            channel.Udp = await outbound.OpenUdpAsync(resolved, _stop.Token);
            channel.Udp.Send(first);
            byte[] buffer = new byte[65536 + SocksAddress.MaxLength + 3];
            int header = 3 + SocksAddress.Write(buffer.AsSpan(3), destination);
            while (!_stop.IsCancellationRequested)
            {
                int n = await channel.Udp.ReceiveAsync(buffer.AsMemory(header, 65535), _stop.Token);
                if (_client is { } client) await _relay.SendToAsync(buffer.AsMemory(0, header + n), SocketFlags.None, client, _stop.Token);
            }
        }
        catch (OutboundException e)
        {
            _inbound.DialFailed(destination.ToString(), outbound.Tag, e.Message);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _relay.Dispose();
        foreach (var channel in _channels.Values) channel.Udp?.Dispose();
        _channels.Clear();
        _stop.Dispose();
    }

    private sealed class Channel
    {
        public volatile IUdpChannel? Udp;
    }
}
