using System.Net.Sockets;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;

namespace Sluice.Platform.Linux;

/// <summary>
/// Sockets for the engine's own traffic, each carrying SO_MARK = the engine's fwmark, so the policy
/// rule (<c>not fwmark M lookup T</c>) skips them and they leave by the main table, and the gate
/// lets them through. An outbound's dial fields replace the mark (routing_mark) and add SO_BINDTODEVICE
/// (bind_interface). Setting SO_MARK needs CAP_NET_ADMIN; the raw ICMP socket needs CAP_NET_RAW.
/// </summary>
public sealed class LinuxSocketFactory : ISocketFactory
{
    private const int SOL_SOCKET = 1;
    private const int SO_MARK = 36;
    private const int SO_BINDTODEVICE = 25;
    private const int SOL_IP = 0;
    private const int IP_FREEBIND = 15;
    private const int SOL_IPV6 = 41;
    private const int IPV6_FREEBIND = 78;

    public LinuxSocketFactory(uint fwMark) => FwMark = fwMark;

    public uint FwMark { get; }

    public IHostResolver Hosts => SystemHostResolver.Instance;

    public Socket CreateTcp(AddressFamily family, DialOptions? dial = null) =>
        Prepare(new Socket(family, SocketType.Stream, ProtocolType.Tcp), dial, s =>
        {
            s.NoDelay = true;
            SetKeepAlive(s, (dial ?? DialOptions.Default).KeepAlive);
        });

    /// <summary>
    /// SO_KEEPALIVE with TCP_KEEPIDLE and TCP_KEEPINTVL (whole seconds) as the outbound's dial fields (or an inbound's
    /// listen fields, on the connections it accepts) say; off for null.
    /// TCP_KEEPCNT stays the kernel's (9 by default), as sing-box leaves it.
    /// </summary>
    internal static void SetKeepAlive(Socket socket, TcpKeepAlive? keepAlive)
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, keepAlive is not null);
        if (keepAlive is null) return;
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)keepAlive.Idle.TotalSeconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)keepAlive.Interval.TotalSeconds);
    }

    public void TuneAccepted(Socket accepted, TcpKeepAlive? keepAlive) => SetKeepAlive(accepted, keepAlive);

    public Socket CreateUdp(AddressFamily family, DialOptions? dial = null) =>
        Prepare(new Socket(family, SocketType.Dgram, ProtocolType.Udp), dial, null);

    public Socket CreateIcmp(AddressFamily family)
    {
        var protocol = family == AddressFamily.InterNetworkV6 ? ProtocolType.IcmpV6 : ProtocolType.Icmp;
        return Prepare(new Socket(family, SocketType.Raw, protocol), null, null);
    }

    public Socket CreateTunListener(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (family == AddressFamily.InterNetworkV6) socket.DualMode = false;
            // FREEBIND: bind the TUN address before IPv6 DAD finishes (.NET's SocketOptionName has none).
            Span<byte> on = stackalloc byte[4];
            BitConverter.TryWriteBytes(on, 1);
            if (family == AddressFamily.InterNetwork) socket.SetRawSocketOption(SOL_IP, IP_FREEBIND, on);
            else socket.SetRawSocketOption(SOL_IPV6, IPV6_FREEBIND, on);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Socket CreateOnDevice(AddressFamily family, SocketType type, string device)
    {
        var socket = new Socket(family, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        try
        {
            // SO_BINDTODEVICE: the route lookup is confined to the TUN, with or without auto_route.
            BindToDevice(socket, device);
            if (type == SocketType.Stream) socket.NoDelay = true;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>sendmmsg with UDP GSO and recvmmsg with UDP GRO over the socket.</summary>
    public IDatagramBatchIo CreateBatchIo(Socket udpSocket) => LinuxDatagramBatchIo.Create(udpSocket);

    /// <summary>recv with MSG_DONTWAIT (<see cref="StreamReceiveNow"/>).</summary>
    public bool TryReceiveNow(Socket socket, Span<byte> buffer, out int received) => StreamReceiveNow.TryReceive(socket, buffer, out received);

    /// <summary>Sets SO_MARK on any socket.</summary>
    public static void SetMark(Socket socket, uint mark)
    {
        Span<byte> value = stackalloc byte[4];
        BitConverter.TryWriteBytes(value, mark);
        try
        {
            socket.SetRawSocketOption(SOL_SOCKET, SO_MARK, value);
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException(
                $"cannot set SO_MARK 0x{mark:x} on a socket: {e.Message}; the engine needs CAP_NET_ADMIN (run as root)", e);
        }
    }

    /// <summary>Reads SO_MARK back.</summary>
    public static uint GetMark(Socket socket)
    {
        Span<byte> value = stackalloc byte[4];
        socket.GetRawSocketOption(SOL_SOCKET, SO_MARK, value);
        return BitConverter.ToUInt32(value);
    }

    private static void BindToDevice(Socket socket, string device) =>
        socket.SetRawSocketOption(SOL_SOCKET, SO_BINDTODEVICE, System.Text.Encoding.ASCII.GetBytes(device + "\0"));

    private Socket Prepare(Socket socket, DialOptions? dial, Action<Socket>? configure)
    {
        try
        {
            // Mark 0 = an embedding host protects the sockets itself (SO_MARK needs CAP_NET_ADMIN, which an app lacks).
            uint mark = dial?.RoutingMark ?? FwMark;
            if (mark != 0) SetMark(socket, mark);
            if (dial?.BindInterface is { } device) BindToDevice(socket, device);
            configure?.Invoke(socket);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
