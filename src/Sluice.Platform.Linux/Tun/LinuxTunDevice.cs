using Sluice.Core.Tun;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>
/// A Linux TUN device (IFF_TUN | IFF_NO_PI) on a non-blocking fd.
/// 1. One reader thread drains the fd with read(2) straight into the batch's pinned slots until
///    EAGAIN or the batch is full; when nothing was ready it polls (250 ms slices, so Dispose from
///    another thread ends the loop promptly) and drains again.
/// 2. Any number of threads write; one write(2) is one packet, atomic in the kernel, so no lock.
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

    private readonly FdHandle _fd;
    private volatile bool _disposed;
    private long _writeErrors;
    private long _writeDrops;

    private LinuxTunDevice(int fd, string name, int mtu)
    {
        _fd = new FdHandle(fd);
        Name = name;
        Mtu = mtu;
    }

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
    public static LinuxTunDevice Create(string name, int mtu)
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
            // struct ifreq: char ifr_name[16]; then a 24-byte union whose first member is short ifr_flags.
            byte* ifreq = stackalloc byte[40];
            new Span<byte>(ifreq, 40).Clear();
            System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(ifreq, 16));
            *(short*)(ifreq + 16) = IFF_TUN | IFF_NO_PI;
            if (Libc.Ioctl(fd, TUNSETIFF, ifreq) < 0)
            {
                int errno = Libc.LastError;
                throw new IOException($"TUNSETIFF for TUN \"{name}\" failed: {Libc.ErrorText(errno)}; " +
                    "is the name taken by a non-TUN interface, or is CAP_NET_ADMIN missing?");
            }
            SetNonBlocking(fd, name);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
        return new LinuxTunDevice(fd, name, mtu);
    }

    /// <summary>
    /// Wraps a TUN fd opened by the host (embedding). Creates no interface; takes ownership of the fd
    /// (Dispose closes it) and switches it to non-blocking mode.
    /// </summary>
    public static LinuxTunDevice FromFd(int fd, string name, int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        SetNonBlocking(fd, name);
        return new LinuxTunDevice(fd, name, mtu);
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
        nuint max = (nuint)batch.MaxPacketSize;
        int count = 0;
        while (count < batch.Capacity)
        {
            nint n = Libc.Read(fd, batch.SlotPointer(count), max);
            if (n < 0)
            {
                int errno = Libc.LastError;
                if (errno == Libc.EINTR) continue;
                if (errno == Libc.EAGAIN) break;
                if (count > 0) break; // hand over what we have; the error repeats on the next call
                throw new IOException($"read from TUN \"{Name}\" failed: {Libc.ErrorText(errno)}");
            }
            if (n == 0) break;
            if (n > (nint)max) continue; // larger than a slot, so truncated: drop it
            batch.SetLength(count, (int)n);
            count++;
        }
        return count;
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
            int fd = _fd.Fd;
            fixed (byte* p = packet)
            {
                for (int attempt = 0; ; )
                {
                    nint n = Libc.Write(fd, p, (nuint)packet.Length);
                    if (n >= 0) return;
                    int errno = Libc.LastError;
                    if (errno == Libc.EINTR) continue;
                    if (errno == Libc.EAGAIN && ++attempt <= WriteRetries && !_disposed)
                    {
                        var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLOUT };
                        Libc.Poll(&pfd, 1, WritePollMs);
                        continue;
                    }
                    if (errno == Libc.EAGAIN) Interlocked.Increment(ref _writeDrops);
                    else Interlocked.Increment(ref _writeErrors);
                    return;
                }
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
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
