using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sluice.Core.Outbounds;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>
/// Many datagrams per syscall on a UDP socket (the WireGuard lane's):
/// 1. send: the datagrams are cut into runs of equal size (the last of a run may be shorter, UDP GSO's
///    rule) and each run becomes one message with a UDP_SEGMENT cmsg; all messages go in one sendmmsg.
///    When the kernel refuses a GSO message (a device without checksum offload: EIO) GSO is switched off
///    and every datagram becomes its own message, still one sendmmsg per batch;
/// 2. receive: UDP_GRO is enabled on the socket, so the kernel hands over a train of one sender's
///    datagrams as one message with a UDP_GRO cmsg (the segment size); recvmmsg reads up to the batch's
///    capacity of messages without blocking; when none is ready it polls the socket and a stop eventfd
///    with no timeout, so Dispose from another thread ends the receive at once and idling costs nothing.
/// The message arrays are pinned managed arrays, so a receive still running when Dispose returns can
/// never touch freed memory. The fd stays owned by the .NET socket; each call holds a reference to it.
/// </summary>
public sealed unsafe class LinuxDatagramBatchIo : IDatagramBatchIo
{
    private const int SOL_UDP = 17;
    private const int UDP_SEGMENT = 103;
    private const int UDP_GRO = 104;

    /// <summary>Messages per sendmmsg; UIO_MAXIOV (1024) bounds the iovecs of one call.</summary>
    private const int MaxSendMessages = 64;
    private const int MaxIovecs = 1024;

    /// <summary>Datagrams per GSO message: the kernel's UDP_MAX_SEGMENTS is 64 on older kernels, 128 on newer.</summary>
    internal const int GsoMaxSegments = 64;

    /// <summary>Bytes per GSO message: the whole train must fit one IP datagram's 16-bit length.</summary>
    internal const int GsoMaxBytes = 65000;

    private const int NameSize = 128; // sockaddr_storage
    private const int SendRetries = 8;

    private readonly SafeSocketHandle _handle;
    private readonly byte[] _sendMessages = AllocatePinned(MaxSendMessages * sizeof(Libc.MMsgHdr));
    private readonly byte[] _sendIovecs = AllocatePinned(MaxIovecs * sizeof(Libc.Iovec));
    private readonly byte[] _sendControl = AllocatePinned(MaxSendMessages * Libc.CmsgSpace(sizeof(ushort)));
    private readonly int[] _firstDatagram = new int[MaxSendMessages + 1];
    private byte[] _receiveMessages = [];
    private byte[] _receiveIovecs = [];
    private byte[] _receiveControl = [];
    private byte[] _receiveNames = [];
    private int _receiveCapacity;
    private volatile bool _disposed;
    private readonly StopSignal _stop = new();

    private LinuxDatagramBatchIo(Socket socket, bool gro)
    {
        _handle = socket.SafeHandle;
        GroEnabled = gro;
    }

    /// <summary>False once the kernel refused a GSO send; every datagram is its own message from then on.</summary>
    public bool GsoEnabled { get; private set; } = true;

    /// <summary>True when the socket accepted UDP_GRO.</summary>
    public bool GroEnabled { get; }

    /// <summary>Batch I/O over <paramref name="socket"/> (a UDP socket); UDP GRO is switched on when the kernel has it.</summary>
    public static LinuxDatagramBatchIo Create(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        int one = 1;
        bool gro = Libc.Setsockopt(Fd(socket.SafeHandle), SOL_UDP, UDP_GRO, &one, sizeof(int)) == 0;
        return new LinuxDatagramBatchIo(socket, gro);
    }

    private static int Fd(SafeSocketHandle handle) => (int)handle.DangerousGetHandle();

    private static byte[] AllocatePinned(int size) => GC.AllocateArray<byte>(size, pinned: true);

    private static T* Pointer<T>(byte[] pinned) where T : unmanaged => (T*)Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);

    /// <summary>
    /// How many datagrams from <paramref name="start"/> form one GSO message: equal lengths, the last may be
    /// shorter (which ends the run), at most <paramref name="maxSegments"/> and <paramref name="maxBytes"/> in all.
    /// </summary>
    internal static int NextRun(ReadOnlySpan<int> lengths, int start, int maxSegments, int maxBytes)
    {
        int size = lengths[start];
        int total = size;
        int end = start + 1;
        while (end < lengths.Length && end - start < maxSegments)
        {
            int next = lengths[end];
            if (next > size || total + next > maxBytes) break;
            total += next;
            end++;
            if (next < size) break;
        }
        return end - start;
    }

    public void Send(ReadOnlySpan<nint> addresses, ReadOnlySpan<int> lengths, SocketAddress destination)
    {
        if (addresses.Length != lengths.Length)
            throw new ArgumentException($"{addresses.Length} datagram addresses but {lengths.Length} lengths", nameof(lengths));
        if (_disposed || addresses.IsEmpty) return;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        try
        {
            fixed (byte* name = destination.Buffer.Span)
            {
                int next = 0, failure = 0;
                while (next < addresses.Length) next = SendSome(addresses, lengths, next, name, (uint)destination.Size, ref failure);
                if (failure != 0) throw new IOException($"sendmmsg on the UDP socket failed: {Libc.ErrorText(failure)}");
            }
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>Builds up to one sendmmsg worth of messages from datagram <paramref name="start"/> and sends them; returns the next datagram.</summary>
    private int SendSome(ReadOnlySpan<nint> addresses, ReadOnlySpan<int> lengths, int start, byte* name, uint nameLength, ref int failure)
    {
        var messages = Pointer<Libc.MMsgHdr>(_sendMessages);
        var iovecs = Pointer<Libc.Iovec>(_sendIovecs);
        byte* control = (byte*)Pointer<byte>(_sendControl);
        int controlSpace = Libc.CmsgSpace(sizeof(ushort));
        int count = 0, iovUsed = 0, i = start;
        while (i < addresses.Length && count < MaxSendMessages)
        {
            int run = GsoEnabled ? NextRun(lengths, i, GsoMaxSegments, GsoMaxBytes) : 1;
            if (iovUsed + run > MaxIovecs) break;
            for (int k = 0; k < run; k++)
                iovecs[iovUsed + k] = new Libc.Iovec { Base = (void*)addresses[i + k], Length = (nuint)lengths[i + k] };
            ref var header = ref messages[count].Header;
            header = new Libc.MsgHdr { Name = name, NameLength = nameLength, Iov = iovecs + iovUsed, IovLength = (nuint)run };
            if (run > 1)
            {
                var cmsg = (Libc.CMsgHdr*)(control + count * controlSpace);
                cmsg->Length = (nuint)Libc.CmsgLength(sizeof(ushort));
                cmsg->Level = SOL_UDP;
                cmsg->Type = UDP_SEGMENT;
                *(ushort*)(cmsg + 1) = (ushort)lengths[i];
                header.Control = cmsg;
                header.ControlLength = (nuint)controlSpace;
            }
            _firstDatagram[count] = i;
            iovUsed += run;
            i += run;
            count++;
        }
        _firstDatagram[count] = i;

        int fd = Fd(_handle);
        for (int sent = 0, attempt = 0; sent < count; )
        {
            int n = Libc.Sendmmsg(fd, messages + sent, (uint)(count - sent), 0);
            if (n > 0)
            {
                sent += n;
                continue;
            }
            int errno = Libc.LastError;
            if (errno == Libc.EINTR) continue;
            if (errno == Libc.EAGAIN && ++attempt <= SendRetries && !_disposed)
            {
                var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLOUT };
                Libc.Poll(&pfd, 1, 50);
                continue;
            }
            if (GsoEnabled && errno is (Libc.EIO or Libc.EINVAL or Libc.EMSGSIZE) && messages[sent].Header.IovLength > 1)
            {
                // The route's device cannot segment UDP: from here on one datagram per message.
                GsoEnabled = false;
                return _firstDatagram[sent];
            }
            // This message is lost; the rest of the batch still goes (a transient route error must not drop it all).
            if (errno != Libc.ECONNREFUSED) failure = errno;
            sent++;
        }
        return i;
    }

    public int Receive(DatagramBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_disposed) return 0;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
        try
        {
            EnsureReceiveArrays(batch.Capacity);
            int fd = Fd(_handle);
            while (!_disposed)
            {
                int n = ReceiveReady(fd, batch);
                if (n > 0) return n;
                if (n < 0) continue; // only errors from ICMP or signals: try again at once
                if (_stop.Wait(fd, Libc.POLLIN, out _) < 0 && Libc.LastError != Libc.EINTR)
                    throw new IOException($"poll on the UDP socket failed: {Libc.ErrorText(Libc.LastError)}");
            }
            return 0;
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>One recvmmsg without blocking: the message count, 0 when nothing was ready, −1 to retry.</summary>
    private int ReceiveReady(int fd, DatagramBatch batch)
    {
        var messages = Pointer<Libc.MMsgHdr>(_receiveMessages);
        var iovecs = Pointer<Libc.Iovec>(_receiveIovecs);
        byte* control = (byte*)Pointer<byte>(_receiveControl);
        byte* names = (byte*)Pointer<byte>(_receiveNames);
        int controlSpace = Libc.CmsgSpace(sizeof(int));
        int capacity = Math.Min(batch.Capacity, _receiveCapacity);
        for (int i = 0; i < capacity; i++)
        {
            iovecs[i] = new Libc.Iovec { Base = batch.DataPointer(i), Length = DatagramBatch.MaxMessageSize };
            messages[i] = new Libc.MMsgHdr
            {
                Header = new Libc.MsgHdr
                {
                    Name = names + i * NameSize, NameLength = NameSize, Iov = iovecs + i, IovLength = 1,
                    Control = control + i * controlSpace, ControlLength = (nuint)controlSpace,
                },
            };
        }
        int n = Libc.Recvmmsg(fd, messages, (uint)capacity, Libc.MSG_DONTWAIT, null);
        if (n < 0)
        {
            int errno = Libc.LastError;
            if (errno == Libc.EAGAIN) return 0;
            // ICMP errors for earlier sends (ECONNREFUSED) surface here; they say nothing about the next datagram.
            if (errno is Libc.EINTR or Libc.ECONNREFUSED) return -1;
            if (errno == Libc.EBADF && _disposed) return 0;
            throw new IOException($"recvmmsg on the UDP socket failed: {Libc.ErrorText(errno)}");
        }
        int kept = 0;
        for (int i = 0; i < n; i++)
        {
            ref var header = ref messages[i].Header;
            if ((header.Flags & Libc.MSG_TRUNC) != 0) continue; // cannot happen with 64 KiB slots; never hand over a cut datagram
            int segment = 0;
            if (header.ControlLength >= (nuint)Libc.CmsgLength(sizeof(int)))
            {
                var cmsg = (Libc.CMsgHdr*)header.Control;
                if (cmsg->Level == SOL_UDP && cmsg->Type == UDP_GRO) segment = *(int*)(cmsg + 1);
            }
            if (kept != i)
            {
                // A dropped message before this one: move the data down so the messages stay dense.
                new ReadOnlySpan<byte>(batch.DataPointer(i), (int)messages[i].Length).CopyTo(new Span<byte>(batch.DataPointer(kept), DatagramBatch.MaxMessageSize));
            }
            var source = batch.Source(kept);
            int nameLength = Math.Min((int)header.NameLength, source.Buffer.Length);
            new ReadOnlySpan<byte>(names + i * NameSize, nameLength).CopyTo(source.Buffer.Span);
            batch.Set(kept, (int)messages[i].Length, segment);
            kept++;
        }
        return kept > 0 ? kept : -1;
    }

    private void EnsureReceiveArrays(int capacity)
    {
        if (_receiveCapacity >= capacity) return;
        _receiveMessages = AllocatePinned(capacity * sizeof(Libc.MMsgHdr));
        _receiveIovecs = AllocatePinned(capacity * sizeof(Libc.Iovec));
        _receiveControl = AllocatePinned(capacity * Libc.CmsgSpace(sizeof(int)));
        _receiveNames = AllocatePinned(capacity * NameSize);
        _receiveCapacity = capacity;
    }

    /// <summary>Wakes and stops a running <see cref="Receive"/> at once. The socket stays open (its owner closes it).</summary>
    public void Dispose()
    {
        _disposed = true;
        _stop.Dispose();
    }
}
