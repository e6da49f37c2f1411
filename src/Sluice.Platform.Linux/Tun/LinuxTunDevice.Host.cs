using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>A TUN the embedding host opened and keeps owning (libsluice's <c>tun_fd</c>).</summary>
public sealed unsafe partial class LinuxTunDevice
{
    // fcntl(2): duplicate onto the lowest free fd >= arg, with FD_CLOEXEC set.
    private const int F_DUPFD_CLOEXEC = 1030;

    /// <summary>
    /// Wraps a duplicate of the host's TUN fd: the device closes its duplicate on Dispose, the host's own fd
    /// stays open (it may start the engine again on it). The name is read from the fd (TUNGETIFF), so
    /// sockets the engine binds to the TUN name the host's interface whatever the config calls it.
    /// </summary>
    public static LinuxTunDevice FromHostFd(int hostFd, int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hostFd);
        string name = InterfaceNameOf(hostFd);
        int fd = Libc.Fcntl(hostFd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            throw new IOException($"cannot duplicate the host's TUN fd {hostFd}: {Libc.ErrorText(Libc.LastError)}");
        try
        {
            return FromFd(fd, name, mtu);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>The interface a TUN fd is attached to; throws when the fd is no attached TUN.</summary>
    public static string InterfaceNameOf(int fd)
    {
        byte* ifreq = stackalloc byte[40];
        new Span<byte>(ifreq, 40).Clear();
        if (Libc.Ioctl(fd, TUNGETIFF, ifreq) < 0)
        {
            int errno = Libc.LastError;
            throw new IOException($"fd {fd} is not an attached TUN device (TUNGETIFF: {Libc.ErrorText(errno)}); pass the fd of an opened /dev/net/tun after TUNSETIFF");
        }
        var name = new ReadOnlySpan<byte>(ifreq, 16);
        int end = name.IndexOf((byte)0);
        return System.Text.Encoding.ASCII.GetString(end < 0 ? name : name[..end]);
    }
}
