using System.Buffers;
using System.Buffers.Binary;
using Sluice.Packets;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>The socket sock_diag found for a flow: its owner and its inode (0 for time-wait/request minisockets).</summary>
internal readonly record struct DiagSocket(uint Uid, ulong Inode);

/// <summary>
/// Finds the local socket behind a flow with one NETLINK_SOCK_DIAG dump (SOCK_DIAG_BY_FAMILY,
/// inet_diag_req_v2). The kernel filters the dump on non-zero idiag_sport/idiag_dport, so the reply
/// holds a handful of sockets; this picks the best match:
/// 1. source address equal to the flow's (v4-mapped counts), else a wildcard bind;
/// 2. for TCP the destination must be the flow's; a connected UDP socket must be connected to it;
/// 3. a socket with an inode (a real socket, not a time-wait entry) beats one without.
/// A v4 flow from a dual-stack AF_INET6 socket is reported under AF_INET6, so v4 flows are
/// looked up in AF_INET first, then AF_INET6.
/// </summary>
internal static unsafe class SockDiag
{
    private const int BufferSize = 64 * 1024;
    private const int ReplyTimeoutMs = 1000;
    private static int s_sequence;

    public static DiagSocket? Find(FlowKey flow)
    {
        if (flow.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp)) return null;
        if (flow.IsV4)
            return Query(Netlink.AF_INET, flow) ?? Query(Netlink.AF_INET6, flow);
        return Query(Netlink.AF_INET6, flow);
    }

    private static DiagSocket? Query(int family, FlowKey flow)
    {
        int fd = Netlink.Socket(Netlink.AF_NETLINK, Netlink.SOCK_RAW | Netlink.SOCK_CLOEXEC, Netlink.NETLINK_SOCK_DIAG);
        if (fd < 0)
            throw new IOException($"cannot open a NETLINK_SOCK_DIAG socket: {Libc.ErrorText(Libc.LastError)}");

        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int sequence = Interlocked.Increment(ref s_sequence);
            fixed (byte* p = buffer)
            {
                if (!SendRequest(fd, p, family, flow, sequence)) return null;
                return ReadReplies(fd, p, buffer.Length, family, flow, sequence);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Libc.Close(fd);
        }
    }

    private static bool SendRequest(int fd, byte* p, int family, FlowKey flow, int sequence)
    {
        const int Length = Netlink.NlMsgHeaderSize + Netlink.InetDiagReqV2Size;
        var request = new Span<byte>(p, Length);
        request.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(request, Length);                       // nlmsg_len (host order)
        BinaryPrimitives.WriteUInt16LittleEndian(request[4..], Netlink.SOCK_DIAG_BY_FAMILY);
        BinaryPrimitives.WriteUInt16LittleEndian(request[6..], Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP);
        BinaryPrimitives.WriteInt32LittleEndian(request[8..], sequence);
        var req = request[Netlink.NlMsgHeaderSize..];
        req[0] = (byte)family;
        req[1] = flow.Protocol;
        BinaryPrimitives.WriteUInt32LittleEndian(req[4..], uint.MaxValue);               // idiag_states: all
        var id = req[8..];
        BinaryPrimitives.WriteUInt16BigEndian(id[Netlink.SockIdSport..], flow.SourcePort);
        // An unconnected UDP socket has dport 0, so only TCP filters on the destination port.
        if (flow.Protocol == IpProtocol.Tcp)
            BinaryPrimitives.WriteUInt16BigEndian(id[Netlink.SockIdDport..], flow.DestinationPort);

        // Headers are host order; this code assumes a little-endian host, as every .NET Linux target is.
        byte* address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        *(ushort*)address = Netlink.AF_NETLINK;
        while (true)
        {
            nint sent = Netlink.SendTo(fd, p, Length, 0, address, 12);
            if (sent == Length) return true;
            if (sent < 0 && Libc.LastError == Libc.EINTR) continue;
            throw new IOException($"sock_diag request failed: {Libc.ErrorText(Libc.LastError)}");
        }
    }

    private static DiagSocket? ReadReplies(int fd, byte* p, int capacity, int family, FlowKey flow, int sequence)
    {
        Span<byte> flowSource = stackalloc byte[16];
        Span<byte> flowDestination = stackalloc byte[16];
        int sourceLength = flow.Source.WriteTo(flowSource);
        flow.Destination.WriteTo(flowDestination);
        flowSource = flowSource[..sourceLength];
        flowDestination = flowDestination[..sourceLength];

        DiagSocket? best = null;
        int bestScore = -1;
        while (true)
        {
            var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
            int ready = Libc.Poll(&pfd, 1, ReplyTimeoutMs);
            if (ready < 0 && Libc.LastError == Libc.EINTR) continue;
            if (ready <= 0) return best; // the kernel answers at once; silence means no more parts

            nint received = Netlink.Recv(fd, p, (nuint)capacity, 0);
            if (received < 0)
            {
                if (Libc.LastError == Libc.EINTR) continue;
                throw new IOException($"sock_diag reply failed: {Libc.ErrorText(Libc.LastError)}");
            }

            var data = new ReadOnlySpan<byte>(p, (int)received);
            while (data.Length >= Netlink.NlMsgHeaderSize)
            {
                int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data);
                ushort type = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
                int seq = BinaryPrimitives.ReadInt32LittleEndian(data[8..]);
                if (length < Netlink.NlMsgHeaderSize || length > data.Length) return best;
                if (seq == sequence)
                {
                    if (type == Netlink.NLMSG_DONE) return best;
                    if (type == Netlink.NLMSG_ERROR)
                    {
                        int error = data.Length >= 20 ? -BinaryPrimitives.ReadInt32LittleEndian(data[16..]) : 0;
                        if (error == 0) return best; // an ACK
                        // ENOENT: no socket of that kind (e.g. IPv6 disabled, udp_diag not loaded).
                        if (error == Libc.ENOENT) return null;
                        throw new IOException($"sock_diag answered an error: {Libc.ErrorText(error)}");
                    }
                    if (type == Netlink.SOCK_DIAG_BY_FAMILY && length >= Netlink.NlMsgHeaderSize + Netlink.InetDiagMsgSize)
                    {
                        var msg = data.Slice(Netlink.NlMsgHeaderSize, Netlink.InetDiagMsgSize);
                        int score = Score(msg, family, flow, flowSource, flowDestination);
                        if (score > bestScore)
                        {
                            bestScore = score;
                            best = new DiagSocket(
                                BinaryPrimitives.ReadUInt32LittleEndian(msg[Netlink.MsgUid..]),
                                BinaryPrimitives.ReadUInt32LittleEndian(msg[Netlink.MsgInode..]));
                        }
                    }
                }
                int step = Netlink.Align(length);
                if (step >= data.Length) break;
                data = data[step..];
            }
        }
    }

    /// <summary>How well a reported socket fits the flow; negative = it is not the flow's socket.</summary>
    internal static int Score(ReadOnlySpan<byte> msg, int family, FlowKey flow, ReadOnlySpan<byte> flowSource, ReadOnlySpan<byte> flowDestination)
    {
        var id = msg[Netlink.MsgSockId..];
        if (BinaryPrimitives.ReadUInt16BigEndian(id[Netlink.SockIdSport..]) != flow.SourcePort) return -1;
        int addressLength = family == Netlink.AF_INET ? 4 : 16;
        var source = id.Slice(Netlink.SockIdSrc, addressLength);
        var destination = id.Slice(Netlink.SockIdDst, addressLength);
        ushort destinationPort = BinaryPrimitives.ReadUInt16BigEndian(id[Netlink.SockIdDport..]);

        int sourceMatch = Match(source, flowSource);
        if (sourceMatch == 0) return -1;
        int score = sourceMatch; // 2 exact, 1 wildcard

        if (flow.Protocol == IpProtocol.Tcp || destinationPort != 0)
        {
            // TCP always, UDP when connected: the peer must be the flow's destination.
            if (destinationPort != flow.DestinationPort || Match(destination, flowDestination) != 2) return -1;
            score += 4;
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(msg[Netlink.MsgInode..]) != 0) score += 8;
        return score;
    }

    /// <summary>2 when the socket address equals the flow address (also as ::ffff:a.b.c.d), 1 when it is a wildcard, else 0.</summary>
    internal static int Match(ReadOnlySpan<byte> socketAddress, ReadOnlySpan<byte> flowAddress)
    {
        if (socketAddress.SequenceEqual(flowAddress)) return 2;
        if (socketAddress.Length == 16 && flowAddress.Length == 4
            && socketAddress[..10].IndexOfAnyExcept((byte)0) < 0
            && socketAddress[10] == 0xff && socketAddress[11] == 0xff
            && socketAddress[12..].SequenceEqual(flowAddress))
            return 2;
        return socketAddress.IndexOfAnyExcept((byte)0) < 0 ? 1 : 0;
    }
}
