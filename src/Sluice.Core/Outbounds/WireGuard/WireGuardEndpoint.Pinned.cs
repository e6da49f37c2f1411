using System.Net;
using System.Net.Sockets;
using Sluice.Core.Outbounds.Direct;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// Flows the lane carries that no app opened through the TUN: the engine's own streams and datagrams
/// (DoH, the mixed inbound) pinned to the lane, and flows a peer opens to us (accept_inbound).
/// </summary>
public sealed partial class WireGuardEndpoint
{
    /// <summary>
    /// A stream through the tunnel for the engine's own use (DoH, the mixed inbound): the kernel's TCP
    /// originates it from a socket bound to the TUN address and device, and its flow is pinned to this
    /// lane before the SYN is sent, so the packet loop carries it like an app's.
    /// </summary>
    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        var (socket, pinned) = PinnedSocket(destination, SocketType.Stream, IpProtocol.Tcp);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new IPEndPoint(destination.Address.ToIPAddress(), destination.Port), timeout.Token);
            return new PinnedStream(socket, () => Unpin(pinned));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            Unpin(pinned);
            throw new OutboundException($"wireguard {Tag}: connect to {destination} through the tunnel failed: {(e is SocketException se ? se.SocketErrorCode.ToString() : "timed out")}", e);
        }
    }

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        var (socket, pinned) = PinnedSocket(destination, SocketType.Dgram, IpProtocol.Udp);
        socket.Connect(new IPEndPoint(destination.Address.ToIPAddress(), destination.Port));
        return ValueTask.FromResult<IUdpChannel>(new PinnedUdpChannel(new ConnectedUdpChannel(socket), () => Unpin(pinned)));
    }

    private (Socket Socket, L3Flow Flow) PinnedSocket(Destination destination, SocketType type, byte protocol)
    {
        var attachment = _attachment ?? throw new OutboundException($"wireguard {Tag}: not started");
        var local = destination.Address.IsV4 ? attachment.TunV4 : attachment.TunV6;
        if (local is null) throw new OutboundException($"wireguard {Tag}: the TUN has no {(destination.Address.IsV4 ? "IPv4" : "IPv6")} address to originate from");
        var socket = _sockets.CreateOnDevice(destination.Address.Family, type, attachment.TunName);
        try
        {
            socket.Bind(new IPEndPoint(local.Value.ToIPAddress(), 0));
            ushort port = (ushort)((IPEndPoint)socket.LocalEndPoint!).Port;
            var key = new FlowKey(protocol, local.Value, port, destination.Address, destination.Port);
            var flow = Open(key) ?? throw new OutboundException($"wireguard {Tag}: no tunnel address for {destination}");
            attachment.Pin(key, flow);
            return (socket, flow);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Unpin(L3Flow flow)
    {
        _attachment?.Unpin(flow.AppKey);
        Forget(flow);
    }

    /// <summary>
    /// A peer opens a flow to our tunnel address (accept_inbound): deliver it to the host at the TUN
    /// address and pin the host's side of the flow to this lane, so the answers go back through it.
    /// Only new TCP connections (SYN), UDP and echo requests open flows.
    /// </summary>
    private L3Flow? AcceptInbound(in FlowKey inbound, in IpPacket ip)
    {
        var attachment = _attachment;
        if (!_options.AcceptInbound || attachment is null) return null;
        NetAddress? tunnel = inbound.IsV4 ? _tunnelV4 : _tunnelV6;
        NetAddress? host = inbound.IsV4 ? attachment.TunV4 : attachment.TunV6;
        if (tunnel is null || host is null || inbound.Destination != tunnel.Value) return null;
        if (ip.Protocol == IpProtocol.Tcp && (!TcpSegment.TryParse(ip.Payload, out var tcp) || (tcp.Flags & (TcpFlags.Syn | TcpFlags.Ack)) != TcpFlags.Syn)) return null;
        if (ip.Protocol is IpProtocol.Icmp or IpProtocol.IcmpV6 && (!IcmpMessage.TryParse(ip.Payload, out var icmp) || !icmp.IsEchoRequest)) return null;
        // From the host's side the flow runs TUN address → remote, like an app's.
        var appKey = new FlowKey(inbound.Protocol, host.Value, inbound.DestinationPort, inbound.Source, inbound.SourcePort);
        var flow = new L3Flow(appKey, inbound.Reverse(), this, _time.Milliseconds());
        _byTunnelKey[flow.TunnelKey] = flow;
        attachment.Pin(appKey, flow);
        return flow;
    }
}
