using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux.Native;

/// <summary>
/// The libc calls the Linux platform makes on raw file descriptors. Constants are the x86_64 /
/// aarch64 values (asm-generic; both architectures agree on every one used here).
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int O_RDWR = 0x2;
    public const int O_RDONLY = 0x0;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int F_GETFL = 3;
    public const int F_SETFL = 4;

    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOENT = 2;

    public const int CLONE_NEWNET = 0x40000000;

    public const int EIO = 5;
    public const int EINVAL = 22;
    public const int EMSGSIZE = 90;
    public const int ECONNREFUSED = 111;

    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_TRUNC = 0x20;

    /// <summary>struct iovec (64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Iovec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (64-bit: 56 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public Iovec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct mmsghdr (64-bit: 64 bytes): a message and the bytes sent or received.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    /// <summary>struct cmsghdr (64-bit: 16 bytes); the data follows, aligned to 8.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>CMSG_SPACE for a payload of <paramref name="size"/> bytes.</summary>
    public static int CmsgSpace(int size) => sizeof(CMsgHdr) + ((size + 7) & ~7);

    /// <summary>CMSG_LEN for a payload of <paramref name="size"/> bytes.</summary>
    public static int CmsgLength(int size) => sizeof(CMsgHdr) + size;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, byte* buffer, nuint count, int flags);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint Writev(int fd, Iovec* iov, int count);

    [LibraryImport(Lib, EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int Sendmmsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport(Lib, EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int Recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int Setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Lib, EntryPoint = "setns", SetLastError = true)]
    public static partial int Setns(int fd, int nsType);

    [LibraryImport(Lib, EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint Readlink(string path, byte* buffer, nuint size);

    [LibraryImport(Lib, EntryPoint = "readlink", SetLastError = true)]
    public static partial nint Readlink(byte* path, byte* buffer, nuint size);

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string ErrorText(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>readlink(2) into a string; null when the link cannot be read.</summary>
    public static string? ReadLink(string path)
    {
        byte* buffer = stackalloc byte[4096];
        nint n = Readlink(path, buffer, 4096);
        return n < 0 ? null : System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }
}
