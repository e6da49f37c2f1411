using Sluice.Core.Tun;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>
/// A Linux TUN device (IFF_TUN | IFF_NO_PI) on a non-blocking fd, with offloads when the kernel has them
/// (IFF_VNET_HDR and TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6): the kernel's TCP then hands over and takes
/// 64 KiB "super-packets", so a bulk transfer costs one syscall per ~45 segments instead of one each.
/// 1. One reader thread drains the fd with read(2) straight into the batch's pinned slots until
///    EAGAIN or the batch is full; when nothing was ready it polls (250 ms slices, so Dispose from
///    another thread ends the loop promptly) and drains again. With offloads each read starts with a
///    virtio_net_hdr (read into the slot's headroom): a TSO super-packet is cut into segments in
///    consecutive slots (<see cref="TcpSegmenter"/>; what does not fit waits for the next batch), and a
///    partial checksum is completed, so the engine only ever sees ordinary packets.
/// 2. Any number of threads write; one write(2) / writev(2) is one packet, atomic in the kernel, so no
///    lock. With offloads a virtio_net_hdr goes first; <see cref="WriteBatch"/> merges consecutive
///    segments of one TCP flow into one GSO packet (<see cref="TcpCoalescer"/>), and stops merging
///    (writing the segments one by one) if the kernel ever answers a merged write with EINVAL.
///    A packet the kernel refuses (EINVAL for a malformed header, EIO when the link is down) is
///    counted in <see cref="WriteErrors"/> and dropped: one bad packet must not stop the engine.
/// </summary>
public sealed unsafe class LinuxTunDevice : ITunDevice
{
    /// <summary>Longest interface name: IFNAMSIZ (16) less the terminating NUL.</summary>
    public const int MaxNameLength = 15;

    private const int PollSliceMs = 250;
    private const int WriteRetries = 8;
    private const int WritePollMs = 50;

    // _IOW('T', 202, int)
    private const uint TUNSETIFF = 0x400454ca;
    private const short IFF_TUN = 0x0001;
    private const short IFF_NO_PI = 0x1000;
    private const short IFF_VNET_HDR = 0x4000;

    // _IOW('T', 208, unsigned int); the argument is the flag word itself, not a pointer.
    private const uint TUNSETOFFLOAD = 0x400454d0;
    // _IOR('T', 210, unsigned int) and _IOR('T', 215, int)
    private const uint TUNGETIFF = 0x800454d2;
    private const uint TUNGETVNETHDRSZ = 0x800454d7;
    private const nuint TUN_F_CSUM = 0x01;
    private const nuint TUN_F_TSO4 = 0x02;
    private const nuint TUN_F_TSO6 = 0x04;

    /// <summary>Largest packet a TUN hands over: IPv6 with a full 64 KiB payload.</summary>
    private const int MaxTunPacket = 40 + 65535;

    private readonly FdHandle _fd;
    private volatile bool _disposed;
    private long _writeErrors;
    private long _writeDrops;

    private readonly bool _vnet;
    private readonly SuperPacket? _pending;

    private LinuxTunDevice(int fd, string name, int mtu, bool offload)
    {
        _fd = new FdHandle(fd);
        Name = name;
        Mtu = mtu;
        _vnet = offload;
        if (offload) _pending = new SuperPacket();
    }

    /// <summary>True when the fd carries virtio_net_hdr (created here: and the kernel accepted TCP segmentation offload).</summary>
    public bool Offload => _vnet;

    public string Name { get; }

    public int Mtu { get; }

    /// <summary>The raw fd, for tests and for handing to a child; the device still owns it.</summary>
    internal int DangerousFd => _fd.Fd;

    /// <summary>Packets the kernel refused on write (malformed, link down, ...); they were dropped.</summary>
    public long WriteErrors => Interlocked.Read(ref _writeErrors);

    /// <summary>Packets dropped because the device stayed unwritable (EAGAIN) for the whole retry budget.</summary>
    public long WriteDrops => Interlocked.Read(ref _writeDrops);

    /// <summary>
    /// Creates (or attaches to) the TUN interface <paramref name="name"/> in the calling thread's
    /// network namespace. The interface is not persistent: it disappears when this device is disposed.
    /// </summary>
    public static LinuxTunDevice Create(string name, int mtu, bool offload = true)
    {
        ValidateName(name);
        int fd = Libc.Open("/dev/net/tun", Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Libc.LastError;
            throw new IOException($"cannot open /dev/net/tun to create TUN \"{name}\": {Libc.ErrorText(errno)}; " +
                "the engine needs root (CAP_NET_ADMIN) and the tun module");
        }

        try
        {
            // A kernel that refuses the offloads gets a plain TUN: same packets, one per syscall.
            offload = offload && SetInterface(fd, name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR) == 0
                && Libc.Ioctl(fd, TUNSETOFFLOAD, (void*)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) == 0;
            if (!offload)
            {
                Libc.Close(fd);
                fd = Libc.Open("/dev/net/tun", Libc.O_RDWR | Libc.O_CLOEXEC);
                if (fd < 0 || SetInterface(fd, name, IFF_TUN | IFF_NO_PI) < 0)
                {
                    int errno = Libc.LastError;
                    throw new IOException($"TUNSETIFF for TUN \"{name}\" failed: {Libc.ErrorText(errno)}; " +
                        "is the name taken by a non-TUN interface, or is CAP_NET_ADMIN missing?");
                }
            }
            SetNonBlocking(fd, name);
        }
        catch
        {
            if (fd >= 0) Libc.Close(fd);
            throw;
        }
        return new LinuxTunDevice(fd, name, mtu, offload);
    }

    /// <summary>TUNSETIFF with <paramref name="flags"/>; 0 or -1 (errno set).</summary>
    private static int SetInterface(int fd, string name, short flags)
    {
        // struct ifreq: char ifr_name[16]; then a 24-byte union whose first member is short ifr_flags.
        byte* ifreq = stackalloc byte[40];
        new Span<byte>(ifreq, 40).Clear();
        System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(ifreq, 16));
        *(short*)(ifreq + 16) = flags;
        return Libc.Ioctl(fd, TUNSETIFF, ifreq);
    }

    /// <summary>
    /// Wraps a TUN fd opened by the host (embedding). Creates no interface; takes ownership of the fd
    /// (Dispose closes it) and switches it to non-blocking mode. The host chose the fd's flags: with
    /// IFF_VNET_HDR the device reads and writes virtio_net_hdr (and cuts up whatever the host's offloads let
    /// through), without it plain packets.
    /// </summary>
    public static LinuxTunDevice FromFd(int fd, string name, int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        byte* ifreq = stackalloc byte[40];
        new Span<byte>(ifreq, 40).Clear();
        bool vnet = Libc.Ioctl(fd, TUNGETIFF, ifreq) == 0 && (*(short*)(ifreq + 16) & IFF_VNET_HDR) != 0;
        if (vnet)
        {
            int size = 0;
            if (Libc.Ioctl(fd, TUNGETVNETHDRSZ, &size) < 0 || size != VirtioNetHeader.Size)
                throw new IOException($"TUN fd {fd} (\"{name}\") has IFF_VNET_HDR with a {size}-byte header; Sluice handles the {VirtioNetHeader.Size}-byte virtio_net_hdr only (leave TUNSETVNETHDRSZ at its default)");
        }
        SetNonBlocking(fd, name);
        return new LinuxTunDevice(fd, name, mtu, vnet);
    }

    public int ReadBatch(PacketBatch batch)
    {
        batch.Count = 0;
        bool added = false;
        try
        {
            if (_disposed) return 0;
            try
            {
                _fd.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                return 0;
            }
            int fd = _fd.Fd;
            while (!_disposed)
            {
                // Read first: under load the fd is already readable and the poll would be wasted.
                int count = Drain(fd, batch);
                if (count > 0)
                {
                    batch.Count = count;
                    return count;
                }

                var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
                int ready = Libc.Poll(&pfd, 1, PollSliceMs);
                if (ready < 0)
                {
                    int errno = Libc.LastError;
                    if (errno == Libc.EINTR) continue;
                    throw new IOException($"poll on TUN \"{Name}\" failed: {Libc.ErrorText(errno)}");
                }
                if (ready > 0 && !_disposed && (pfd.Revents & Libc.POLLIN) == 0
                    && (pfd.Revents & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0)
                {
                    // No data but an error: the tun was detached from its interface.
                    throw new IOException($"TUN \"{Name}\" reported an error (revents 0x{pfd.Revents:x}); the interface may have been deleted");
                }
            }
            return 0;
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>read(2) into consecutive slots until EAGAIN or the batch is full.</summary>
    private int Drain(int fd, PacketBatch batch)
    {
        if (_vnet) return DrainOffloaded(fd, batch);
        nuint max = (nuint)batch.MaxPacketSize;
        int count = 0;
        while (count < batch.Capacity)
        {
            nint n = Libc.Read(fd, batch.SlotPointer(count), max);
            if (n < 0)
            {
                if (ReadFailed(count)) continue;
                break;
            }
            if (n == 0) break;
            if (n > (nint)max) continue; // larger than a slot, so truncated: drop it
            batch.SetLength(count, (int)n);
            count++;
        }
        return count;
    }

    /// <summary>After read(2) returned −1: true to retry (EINTR); false to end the drain; throws a first-read failure.</summary>
    private bool ReadFailed(int count)
    {
        int errno = Libc.LastError;
        if (errno == Libc.EINTR) return true;
        if (errno == Libc.EAGAIN) return false;
        if (count > 0) return false; // hand over what we have; the error repeats on the next call
        throw new IOException($"read from TUN \"{Name}\" failed: {Libc.ErrorText(errno)}");
    }

    /// <summary>
    /// The offload drain: a super-packet left from the previous batch first, then reads. A read lands
    /// with its virtio_net_hdr in the slot's headroom when slots hold any TUN packet (else in the
    /// super-packet buffer, and is copied). A super-packet whose segments fit is cut up in place; one that
    /// does not fit moves to the buffer and fills the rest of the batch, the remainder waits.
    /// </summary>
    private int DrainOffloaded(int fd, PacketBatch batch)
    {
        var pending = _pending!;
        int count = pending.Emit(batch, 0);
        bool direct = batch.MaxPacketSize >= MaxTunPacket;
        while (count < batch.Capacity && pending.IsEmpty)
        {
            byte* target = direct ? batch.SlotPointer(count) - VirtioNetHeader.Size : pending.Pointer;
            nuint max = direct ? (nuint)(batch.MaxPacketSize + VirtioNetHeader.Size) : (nuint)pending.Capacity;
            nint n = Libc.Read(fd, target, max);
            if (n < 0)
            {
                if (ReadFailed(count)) continue;
                break;
            }
            if (n == 0) break;
            if (n <= VirtioNetHeader.Size) continue;
            var header = VirtioNetHeader.Read(new ReadOnlySpan<byte>(target, VirtioNetHeader.Size));
            var packet = new Span<byte>(target + VirtioNetHeader.Size, (int)n - VirtioNetHeader.Size);
            if (header.GsoType == VirtioNetHeader.GsoNone)
            {
                if ((header.Flags & VirtioNetHeader.NeedsChecksum) != 0
                    && !TcpSegmenter.CompleteChecksum(packet, header.ChecksumStart, header.ChecksumOffset)) continue;
                if (!direct)
                {
                    if (packet.Length > batch.MaxPacketSize) continue;
                    packet.CopyTo(batch.SlotForRead(count));
                }
                batch.SetLength(count, packet.Length);
                count++;
                continue;
            }
            if ((header.GsoType & ~VirtioNetHeader.GsoEcn) is not (VirtioNetHeader.GsoTcpV4 or VirtioNetHeader.GsoTcpV6)
                || !TcpSegmenter.TryMeasure(packet, header.GsoSize, out int ipHeaderLength, out int headerLength, out int segments)
                || headerLength + header.GsoSize > batch.MaxPacketSize)
            {
                Interlocked.Increment(ref _readDrops); // UDP GSO is not enabled, so this is a malformed one
                continue;
            }
            _superPackets++;
            if (direct && count + segments <= batch.Capacity)
            {
                // Last to first: segment 0 is rewritten over the super-packet, which the others read.
                for (int i = segments - 1; i >= 0; i--)
                    batch.SetLength(count + i, TcpSegmenter.WriteSegment(packet, ipHeaderLength, headerLength, header.GsoSize, i, segments, batch.SlotForRead(count + i)));
                count += segments;
                continue;
            }
            pending.Hold(packet, ipHeaderLength, headerLength, header.GsoSize, segments);
            count += pending.Emit(batch, count);
        }
        return count;
    }

    private long _readDrops;
    private long _superPackets;
    private long _mergedWrites;

    /// <summary>TSO super-packets read and cut into segments (reader thread; for tests and diagnostics).</summary>
    internal long SuperPackets => Interlocked.Read(ref _superPackets);

    /// <summary>Writes that carried several merged TCP segments as one GSO packet.</summary>
    internal long MergedWrites => Interlocked.Read(ref _mergedWrites);

    /// <summary>Super-packets dropped because they were neither TCP nor well formed.</summary>
    public long ReadDrops => Interlocked.Read(ref _readDrops);

    /// <summary>A TSO super-packet whose segments did not fit the batch, and how far it has been emitted.</summary>
    private sealed class SuperPacket
    {
        private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(VirtioNetHeader.Size + MaxTunPacket + 64, pinned: true);
        private int _length, _ipHeaderLength, _headerLength, _gsoSize, _segments, _next;

        public int Capacity => _buffer.Length;

        public byte* Pointer => (byte*)System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(_buffer, 0);

        public bool IsEmpty => _next == _segments;

        /// <summary>Takes a super-packet (it may already be in this buffer, after its header).</summary>
        public void Hold(ReadOnlySpan<byte> packet, int ipHeaderLength, int headerLength, int gsoSize, int segments)
        {
            packet.CopyTo(_buffer.AsSpan(VirtioNetHeader.Size));
            (_length, _ipHeaderLength, _headerLength, _gsoSize, _segments, _next) = (packet.Length, ipHeaderLength, headerLength, gsoSize, segments, 0);
        }

        /// <summary>Writes as many of the remaining segments as fit from slot <paramref name="at"/>; returns how many.</summary>
        public int Emit(PacketBatch batch, int at)
        {
            int n = Math.Min(_segments - _next, batch.Capacity - at);
            var packet = _buffer.AsSpan(VirtioNetHeader.Size, _length);
            for (int i = 0; i < n; i++, _next++)
                batch.SetLength(at + i, TcpSegmenter.WriteSegment(packet, _ipHeaderLength, _headerLength, _gsoSize, _next, _segments, batch.SlotForRead(at + i)));
            return n;
        }
    }

    public void Write(ReadOnlySpan<byte> packet)
    {
        if (_disposed) return;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            fixed (byte* p = packet)
            {
                // With offloads every write starts with a virtio_net_hdr; all zero: no GSO, checksum complete.
                byte* none = stackalloc byte[VirtioNetHeader.Size];
                new Span<byte>(none, VirtioNetHeader.Size).Clear();
                var iov = stackalloc Libc.Iovec[2];
                iov[0] = new Libc.Iovec { Base = none, Length = VirtioNetHeader.Size };
                iov[1] = new Libc.Iovec { Base = p, Length = (nuint)packet.Length };
                WriteVector(_vnet ? iov : iov + 1, _vnet ? 2 : 1);
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>
    /// Writes packets in order; with offloads, runs of one TCP flow's consecutive segments go as one GSO
    /// packet (their first segment's headers are rewritten in <paramref name="buffer"/> for it).
    /// </summary>
    public void WriteBatch(Span<byte> buffer, ReadOnlySpan<PacketRange> packets)
    {
        if (!_vnet)
        {
            foreach (var packet in packets) Write(buffer.Slice(packet.Offset, packet.Length));
            return;
        }
        if (_disposed) return;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            byte* header = stackalloc byte[VirtioNetHeader.Size];
            var iov = stackalloc Libc.Iovec[TcpCoalescer.MaxSegments + 1];
            Span<byte> original = stackalloc byte[120]; // the head's IP + TCP headers, at most 60 + 60
            iov[0] = new Libc.Iovec { Base = header, Length = VirtioNetHeader.Size };
            fixed (byte* b = buffer)
            {
                for (int i = 0, group; i < packets.Length; i += group)
                {
                    int gsoSize = 0;
                    group = _mergeRefused ? 1 : TcpCoalescer.NextGroup(buffer, packets, i, out gsoSize);
                    var first = packets[i];
                    iov[1] = new Libc.Iovec { Base = b + first.Offset, Length = (nuint)first.Length };
                    if (group == 1)
                    {
                        default(VirtioNetHeader).Write(new Span<byte>(header, VirtioNetHeader.Size));
                        WriteVector(iov, 2);
                        continue;
                    }
                    var head = buffer.Slice(first.Offset, first.Length);
                    int ipHeaderLength = head[0] >> 4 == 4 ? 20 : 40;
                    int headerLength = ipHeaderLength + (head[ipHeaderLength + 12] >> 4) * 4;
                    var last = packets[i + group - 1];
                    bool psh = (buffer[last.Offset + ipHeaderLength + 13] & (byte)Packets.TcpFlags.Psh) != 0;
                    int total = first.Length;
                    for (int k = 1; k < group; k++)
                    {
                        var next = packets[i + k];
                        iov[1 + k] = new Libc.Iovec { Base = b + next.Offset + headerLength, Length = (nuint)(next.Length - headerLength) };
                        total += next.Length - headerLength;
                    }
                    head[..headerLength].CopyTo(original);
                    TcpCoalescer.PrepareHead(head, total, psh, gsoSize).Write(new Span<byte>(header, VirtioNetHeader.Size));
                    int errno = WriteVector(iov, 1 + group, countFailure: false);
                    if (errno == 0)
                    {
                        Interlocked.Increment(ref _mergedWrites);
                        continue;
                    }
                    if (errno != Libc.EINVAL)
                    {
                        Interlocked.Increment(ref errno == Libc.EAGAIN ? ref _writeDrops : ref _writeErrors);
                        continue;
                    }
                    // EINVAL: the kernel does not take this virtio header. Restore the head, send the segments
                    // one by one, and merge no more (a kernel that refuses one GSO write refuses them all).
                    _mergeRefused = true;
                    original[..headerLength].CopyTo(head);
                    default(VirtioNetHeader).Write(new Span<byte>(header, VirtioNetHeader.Size));
                    for (int k = 0; k < group; k++)
                    {
                        var packet = packets[i + k];
                        iov[1] = new Libc.Iovec { Base = b + packet.Offset, Length = (nuint)packet.Length };
                        WriteVector(iov, 2);
                    }
                }
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    private volatile bool _mergeRefused;

    /// <summary>
    /// One writev(2): retried on EINTR, and on EAGAIN for a short while. Returns 0 or the errno of the
    /// refusal, which is counted unless <paramref name="countFailure"/> is false.
    /// </summary>
    private int WriteVector(Libc.Iovec* iov, int count, bool countFailure = true)
    {
        int fd = _fd.Fd;
        for (int attempt = 0; ; )
        {
            nint n = Libc.Writev(fd, iov, count);
            if (n >= 0) return 0;
            int errno = Libc.LastError;
            if (errno == Libc.EINTR) continue;
            if (errno == Libc.EAGAIN && ++attempt <= WriteRetries && !_disposed)
            {
                var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLOUT };
                Libc.Poll(&pfd, 1, WritePollMs);
                continue;
            }
            if (!countFailure) return errno;
            if (errno == Libc.EAGAIN) Interlocked.Increment(ref _writeDrops);
            else Interlocked.Increment(ref _writeErrors);
            return errno;
        }
    }

    /// <summary>Closes the fd. A concurrent ReadBatch returns 0 within one poll slice; the fd closes when it does.</summary>
    public void Dispose()
    {
        _disposed = true;
        _fd.Dispose();
    }

    internal static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name.Length > MaxNameLength)
            throw new ArgumentException(
                $"TUN name \"{name}\" is {name.Length} characters; Linux interface names are 1 to {MaxNameLength} characters", nameof(name));
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw new ArgumentException(
                    $"TUN name \"{name}\" contains '{c}'; use letters, digits, '-', '_' or '.'", nameof(name));
        }
        if (name is "." or "..")
            throw new ArgumentException($"TUN name \"{name}\" is not a valid interface name", nameof(name));
    }

    private static void SetNonBlocking(int fd, string name)
    {
        int flags = Libc.Fcntl(fd, Libc.F_GETFL, 0);
        if (flags < 0 || Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK) < 0)
        {
            int errno = Libc.LastError;
            throw new IOException($"cannot make the fd of TUN \"{name}\" non-blocking: {Libc.ErrorText(errno)}");
        }
    }
}
