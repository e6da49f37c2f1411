using System.Buffers;
using System.Buffers.Binary;
using Sluice.Packets;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>The socket sock_diag found for a flow: its owner and its inode (0 for time-wait/request minisockets).</summary>
internal readonly record struct DiagSocket(uint Uid, ulong Inode);

/// <summary>
/// Finds the local socket behind a flow over NETLINK_SOCK_DIAG (SOCK_DIAG_BY_FAMILY, inet_diag_req_v2):
/// 1. UDP: one exact request (no dump): the kernel looks the socket up as it would deliver a datagram from the
///    flow's destination to its source (its own UDP demux, a hash lookup), so the one answer is the socket that
///    owns the flow, wildcard binds and connected sockets alike. The AF_INET lookup also finds a dual-stack
///    AF_INET6 socket (it shares the UDP table), so a v4 flow costs one request, found or not;
/// 2. TCP: a dump filtered by the flow's ports (the kernel filters on non-zero idiag_sport/idiag_dport, so the
///    reply holds a handful of sockets), the best match picked by <see cref="Score"/>; a v4 flow from a
///    dual-stack socket is reported under AF_INET6, so AF_INET is asked first, then AF_INET6.
/// Each thread keeps its request socket open between lookups (<see cref="RequestSocket"/>): the packet thread asks
/// this for every new hijacked DNS flow (issue 17), and a lookup is then one sendto and one recv for UDP, where it
/// was socket, sendto, poll, recv, poll, recv and close, twice for a v4 miss. The kernel answers a request while it
/// handles the sendto, so the reply is read without waiting; poll only if it is not there yet.
/// </summary>
internal static unsafe class SockDiag
{
    private const int DumpBufferSize = 64 * 1024;
    private const int ExactReplySize = 2048; // one inet_diag_msg and a few attributes
    private const int ReplyTimeoutMs = 1000;
    private static int s_sequence;

    public static DiagSocket? Find(FlowKey flow)
    {
        if (flow.Protocol == IpProtocol.Udp) return FindUdp(flow);
        if (flow.Protocol != IpProtocol.Tcp) return null;
        if (flow.IsV4)
            return Dump(Netlink.AF_INET, flow) ?? Dump(Netlink.AF_INET6, flow);
        return Dump(Netlink.AF_INET6, flow);
    }

    private static DiagSocket? FindUdp(FlowKey flow)
    {
        var socket = RequestSocket.ForThisThread();
        byte* p = stackalloc byte[ExactReplySize];
        int sequence = Interlocked.Increment(ref s_sequence);
        int family = flow.IsV4 ? Netlink.AF_INET : Netlink.AF_INET6;
        bool complete = false;
        try
        {
            WriteRequest(p, family, flow, sequence, exact: true);
            Send(socket.Fd, p);
            var found = ReadReplies(socket.Fd, p, ExactReplySize, family, flow, sequence, exact: true, out complete);
            return found;
        }
        finally
        {
            if (!complete) socket.Discard(); // a reply may still come: the next lookup starts on a fresh socket
        }
    }

    private static DiagSocket? Dump(int family, FlowKey flow)
    {
        var socket = RequestSocket.ForThisThread();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DumpBufferSize);
        bool complete = false;
        try
        {
            int sequence = Interlocked.Increment(ref s_sequence);
            fixed (byte* p = buffer)
            {
                WriteRequest(p, family, flow, sequence, exact: false);
                Send(socket.Fd, p);
                return ReadReplies(socket.Fd, p, buffer.Length, family, flow, sequence, exact: false, out complete);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!complete) socket.Discard();
        }
    }

    private const int RequestLength = Netlink.NlMsgHeaderSize + Netlink.InetDiagReqV2Size;

    /// <summary>
    /// The request for <paramref name="flow"/>'s socket. A dump names the local port (and for TCP the remote one).
    /// An exact UDP request names the datagram the kernel would deliver to it: source = the flow's destination,
    /// destination = the flow's source (udp_diag's dump_one looks up idiag_src/sport as the sender), no cookie.
    /// </summary>
    private static void WriteRequest(byte* p, int family, FlowKey flow, int sequence, bool exact)
    {
        var request = new Span<byte>(p, RequestLength);
        request.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(request, RequestLength);                // nlmsg_len (host order)
        BinaryPrimitives.WriteUInt16LittleEndian(request[4..], Netlink.SOCK_DIAG_BY_FAMILY);
        BinaryPrimitives.WriteUInt16LittleEndian(request[6..], exact ? Netlink.NLM_F_REQUEST : (ushort)(Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP));
        BinaryPrimitives.WriteInt32LittleEndian(request[8..], sequence);
        var req = request[Netlink.NlMsgHeaderSize..];
        req[0] = (byte)family;
        req[1] = flow.Protocol;
        BinaryPrimitives.WriteUInt32LittleEndian(req[4..], uint.MaxValue);               // idiag_states: all
        var id = req[8..];
        if (exact)
        {
            BinaryPrimitives.WriteUInt16BigEndian(id[Netlink.SockIdSport..], flow.DestinationPort);
            BinaryPrimitives.WriteUInt16BigEndian(id[Netlink.SockIdDport..], flow.SourcePort);
            flow.Destination.WriteTo(id[Netlink.SockIdSrc..]);
            flow.Source.WriteTo(id[Netlink.SockIdDst..]);
            id[Netlink.SockIdCookie..(Netlink.SockIdCookie + 8)].Fill(0xFF);             // INET_DIAG_NOCOOKIE
            return;
        }
        BinaryPrimitives.WriteUInt16BigEndian(id[Netlink.SockIdSport..], flow.SourcePort);
        // An unconnected UDP socket has dport 0, so only TCP filters on the destination port.
        if (flow.Protocol == IpProtocol.Tcp)
            BinaryPrimitives.WriteUInt16BigEndian(id[Netlink.SockIdDport..], flow.DestinationPort);
    }

    private static void Send(int fd, byte* p)
    {
        // Headers are host order; this code assumes a little-endian host, as every .NET Linux target is.
        byte* address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        *(ushort*)address = Netlink.AF_NETLINK;
        while (true)
        {
            nint sent = Netlink.SendTo(fd, p, RequestLength, 0, address, 12);
            if (sent == RequestLength) return;
            if (sent < 0 && Libc.LastError == Libc.EINTR) continue;
            throw new IOException($"sock_diag request failed: {Libc.ErrorText(Libc.LastError)}");
        }
    }

    /// <summary>The next part of the reply: at once when the kernel queued it during the sendto (or the last recv), else after a poll; 0 on silence.</summary>
    private static nint Receive(int fd, byte* p, int capacity)
    {
        while (true)
        {
            nint received = Netlink.Recv(fd, p, (nuint)capacity, Libc.MSG_DONTWAIT);
            if (received >= 0) return received;
            int error = Libc.LastError;
            if (error == Libc.EINTR) continue;
            if (error != Libc.EAGAIN) throw new IOException($"sock_diag reply failed: {Libc.ErrorText(error)}");
            var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
            int ready;
            do ready = Libc.Poll(&pfd, 1, ReplyTimeoutMs);
            while (ready < 0 && Libc.LastError == Libc.EINTR);
            if (ready <= 0) return 0; // the kernel answers at once; silence means no more parts
        }
    }

    /// <summary>
    /// Reads the reply to request <paramref name="sequence"/> (parts of earlier requests are skipped).
    /// <paramref name="complete"/>: the reply was read to its end, so the socket holds nothing more of it.
    /// </summary>
    private static DiagSocket? ReadReplies(int fd, byte* p, int capacity, int family, FlowKey flow, int sequence, bool exact, out bool complete)
    {
        complete = false;
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
            nint received = Receive(fd, p, capacity);
            if (received <= 0) return best;

            foreach (var message in NetlinkReader.Messages(new ReadOnlySpan<byte>(p, (int)received)))
            {
                if (message.Sequence != (uint)sequence) continue;
                if (message.Type == Netlink.NLMSG_DONE)
                {
                    complete = true;
                    return best;
                }
                if (message.Type == Netlink.NLMSG_ERROR)
                {
                    complete = true;
                    int error = message.Error;
                    if (error == 0) return best; // an ACK
                    // ENOENT: no such socket (exact), or none of that kind (e.g. IPv6 disabled, udp_diag not loaded).
                    if (error == Libc.ENOENT) return null;
                    throw new IOException($"sock_diag answered an error: {Libc.ErrorText(error)}");
                }
                if (message.Type != Netlink.SOCK_DIAG_BY_FAMILY || message.Body.Length < Netlink.InetDiagMsgSize) continue;
                var msg = message.Body[..Netlink.InetDiagMsgSize];
                var socket = new DiagSocket(
                    BinaryPrimitives.ReadUInt32LittleEndian(msg[Netlink.MsgUid..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(msg[Netlink.MsgInode..]));
                if (exact)
                {
                    complete = true; // an exact request is answered with this one message
                    return socket;
                }
                int score = Score(msg, family, flow, flowSource, flowDestination);
                if (score > bestScore)
                {
                    bestScore = score;
                    best = socket;
                }
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

    /// <summary>
    /// This thread's request socket, open from its first lookup until the thread ends (the finalizer closes it) or an
    /// exchange fails. Per thread, not shared: a netlink socket answers for the network namespace it was opened in, and
    /// a namespace belongs to a thread (code that enters another one, as the tests do, runs on a thread of its own).
    /// </summary>
    private sealed class RequestSocket
    {
        [ThreadStatic] private static RequestSocket? t_socket;

        private RequestSocket(int fd) => Fd = fd;

        public int Fd { get; }

        public static RequestSocket ForThisThread()
        {
            if (t_socket is { } open) return open;
            int fd = Netlink.Socket(Netlink.AF_NETLINK, Netlink.SOCK_RAW | Netlink.SOCK_CLOEXEC, Netlink.NETLINK_SOCK_DIAG);
            if (fd < 0)
                throw new IOException($"cannot open a NETLINK_SOCK_DIAG socket: {Libc.ErrorText(Libc.LastError)}");
            return t_socket = new RequestSocket(fd);
        }

        /// <summary>Closes it now; the thread's next lookup opens a new one.</summary>
        public void Discard()
        {
            if (ReferenceEquals(t_socket, this)) t_socket = null;
            GC.SuppressFinalize(this);
            Libc.Close(Fd);
        }

        ~RequestSocket() => Libc.Close(Fd);
    }
}
