using Sluice.Core.Tun;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>
/// A Linux TUN device (IFF_TUN | IFF_NO_PI) on a non-blocking fd, with offloads when the kernel has them
/// (IFF_VNET_HDR and TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6): the kernel's TCP then hands over and takes
/// 64 KiB "super-packets", so a bulk transfer costs one syscall per ~45 segments instead of one each.
/// 1. One reader thread drains the fd with read(2) straight into the batch's pinned slots until
///    EAGAIN or the batch is full; when nothing was ready it polls the fd and a stop eventfd with no
///    timeout (Dispose ends the loop at once; an idle TUN costs no wake-ups) and drains again, the first
///    packet after a wake alone (a lone packet does not wait for the read that finds the TUN empty). With
///    offloads each read starts with a virtio_net_hdr (read into the slot's headroom): a TSO super-packet is cut into segments in
///    consecutive slots (<see cref="TcpSegmenter"/>; what does not fit waits for the next batch), and a
///    partial checksum is completed, so the engine only ever sees ordinary packets; except a TCP packet's
///    partial checksum when the batch keeps them (<see cref="PacketBatch.KeepsPartialChecksums"/>): it is
///    marked in the batch, and the NAT writes it back partial (<see cref="WriteChecksumPending"/>).
/// 2. Any number of threads write; one write(2) / writev(2) is one packet, atomic in the kernel, so no
///    lock. With offloads a virtio_net_hdr goes first; <see cref="WriteBatch"/> merges consecutive
///    segments of one TCP flow into one GSO packet (<see cref="TcpCoalescer"/>), and stops merging
///    (writing the segments one by one) if the kernel ever answers a merged write with EINVAL.
///    A packet the kernel refuses (EINVAL for a malformed header, EIO when the link is down) is
///    counted in <see cref="WriteErrors"/> and dropped: one bad packet must not stop the engine.
/// </summary>
public sealed unsafe partial class LinuxTunDevice : ITunDevice
{
    /// <summary>Longest interface name: IFNAMSIZ (16) less the terminating NUL.</summary>
    public const int MaxNameLength = 15;

    // The reader's own: the last read(2) ended on EAGAIN, so the next ReadBatch polls before reading.
    private bool _foundEmpty;
    // The reader's own: it has just woken from poll, so the first packet goes on alone (see ReadBatch).
    private bool _woken;
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
    private readonly StopSignal _stop = new();
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
        if (!TryHoldFd()) return 0;
        try
        {
            int fd = _fd.Fd;
            while (!_disposed)
            {
                // Read first: under load the fd is already readable and the poll would be wasted. Not
                // when the last read found the TUN empty, though: then the poll is what is due, and a
                // packet at a time (a DNS query, a keystroke) costs one read fewer.
                // Right after a poll wake the first packet goes on alone: a lone packet (a ping, a keystroke, a
                // request) is then sent before the read that finds the TUN empty, not after it; a burst loses
                // nothing, its rest is drained by the next call without a poll.
                if (!_foundEmpty)
                {
                    int count = Drain(fd, batch, _woken ? 1 : batch.Capacity);
                    _woken = false;
                    if (count > 0)
                    {
                        batch.Count = count;
                        return count;
                    }
                }
                _foundEmpty = false;
                _woken = true;

                int ready = _stop.Wait(fd, Libc.POLLIN, out short revents);
                if (ready < 0)
                {
                    int errno = Libc.LastError;
                    if (errno == Libc.EINTR) continue;
                    throw new IOException($"poll on TUN \"{Name}\" failed: {Libc.ErrorText(errno)}");
                }
                if (ready > 0 && !_disposed && (revents & Libc.POLLIN) == 0
                    && (revents & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0)
                {
                    // No data but an error: the tun was detached from its interface.
                    throw new IOException($"TUN \"{Name}\" reported an error (revents 0x{revents:x}); the interface may have been deleted");
                }
            }
            return 0;
        }
        finally
        {
            _fd.DangerousRelease();
        }
    }

    /// <summary>read(2) into consecutive slots until EAGAIN or <paramref name="limit"/> packets (at most the batch's capacity).</summary>
    private int Drain(int fd, PacketBatch batch, int limit)
    {
        limit = Math.Min(limit, batch.Capacity);
        if (_vnet) return DrainOffloaded(fd, batch, limit);
        nuint max = (nuint)batch.MaxPacketSize;
        int count = 0;
        while (count < limit)
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
        if (errno == Libc.EAGAIN)
        {
            _foundEmpty = true;
            return false;
        }
        if (count > 0) return false; // hand over what we have; the error repeats on the next call
        throw new IOException($"read from TUN \"{Name}\" failed: {Libc.ErrorText(errno)}");
    }

    // With offloads every write starts with a virtio_net_hdr; all zero: no GSO, checksum complete.
    public void Write(ReadOnlySpan<byte> packet) => WriteOne(packet, default);

    /// <summary>One packet in one writev(2), after <paramref name="header"/> when the device has offloads.</summary>
    private void WriteOne(ReadOnlySpan<byte> packet, VirtioNetHeader header)
    {
        if (!TryHoldFd()) return;
        try
        {
            byte* head = stackalloc byte[VirtioNetHeader.Size];
            header.Write(new Span<byte>(head, VirtioNetHeader.Size));
            fixed (byte* p = packet)
            {
                var iov = stackalloc Libc.Iovec[2];
                iov[0] = new Libc.Iovec { Base = head, Length = VirtioNetHeader.Size };
                iov[1] = new Libc.Iovec { Base = p, Length = (nuint)packet.Length };
                WriteVector(_vnet ? iov : iov + 1, _vnet ? 2 : 1);
            }
        }
        finally
        {
            _fd.DangerousRelease();
        }
    }

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

    /// <summary>
    /// Takes a reference on the fd so a concurrent Dispose cannot close it under a read or write; false
    /// once the device is disposed. The caller releases it with <c>_fd.DangerousRelease()</c>.
    /// </summary>
    private bool TryHoldFd()
    {
        if (_disposed) return false;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }
        return added;
    }

    /// <summary>Closes the fd. A concurrent ReadBatch wakes and returns 0 at once; the fd closes when it does.</summary>
    public void Dispose()
    {
        _disposed = true;
        _stop.Dispose();
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
