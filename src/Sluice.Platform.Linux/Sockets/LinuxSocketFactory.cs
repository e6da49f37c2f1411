using System.Net.Sockets;
using Sluice.Core.Outbounds;

namespace Sluice.Platform.Linux;

/// <summary>
/// Sockets for the engine's own traffic, each carrying SO_MARK = the engine's fwmark, so the policy
/// rule (<c>not fwmark M lookup T</c>) skips them and they leave by the main table, and the gate
/// lets them through. Setting SO_MARK needs CAP_NET_ADMIN; the raw ICMP socket needs CAP_NET_RAW.
/// </summary>
public sealed class LinuxSocketFactory : ISocketFactory
{
    private const int SOL_SOCKET = 1;
    private const int SO_MARK = 36;

    public LinuxSocketFactory(uint fwMark) => FwMark = fwMark;

    public uint FwMark { get; }

    public Socket CreateTcp(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        return Prepare(socket, s => s.NoDelay = true);
    }

    public Socket CreateUdp(AddressFamily family) =>
        Prepare(new Socket(family, SocketType.Dgram, ProtocolType.Udp), null);

    public Socket CreateIcmp(AddressFamily family)
    {
        var protocol = family == AddressFamily.InterNetworkV6 ? ProtocolType.IcmpV6 : ProtocolType.Icmp;
        return Prepare(new Socket(family, SocketType.Raw, protocol), null);
    }

    public Socket CreateOnDevice(AddressFamily family, SocketType type, string device)
    {
        var socket = new Socket(family, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        try
        {
            // SO_BINDTODEVICE: the route lookup is confined to the TUN, with or without auto_route.
            socket.SetRawSocketOption(SOL_SOCKET, SO_BINDTODEVICE, System.Text.Encoding.ASCII.GetBytes(device + "\0"));
            if (type == SocketType.Stream) socket.NoDelay = true;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private const int SO_BINDTODEVICE = 25;

    /// <summary>sendmmsg with UDP GSO and recvmmsg with UDP GRO over the socket.</summary>
    public IDatagramBatchIo CreateBatchIo(Socket udpSocket) => LinuxDatagramBatchIo.Create(udpSocket);

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

    private Socket Prepare(Socket socket, Action<Socket>? configure)
    {
        try
        {
            SetMark(socket, FwMark);
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
