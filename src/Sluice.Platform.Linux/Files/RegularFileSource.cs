using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Sluice.Core.Configuration;

namespace Sluice.Platform.Linux.Files;

/// <summary>
/// Reads a file a config names, for the root daemon or a root CLI, the way the caller could have read it:
/// 1. statx the path: anything but a regular file (FIFO, device, socket, directory) is refused before it is opened.
/// 2. open it O_NONBLOCK | O_NOCTTY, and statx the descriptor: it must still be a regular file (a FIFO swapped in
///    between the two answers at once instead of hanging), and no larger than the cap.
/// 3. For an API caller other than root: the caller must be able to read the file itself, by its mode bits and
///    owner (owner, group among the caller's groups, or other), and search every directory above its real path.
///    POSIX ACLs are not consulted (a file shared only through an ACL is refused: stricter, never looser).
/// 4. Read at most the cap (a file that grows while read is refused too).
/// Symlinks are followed, as for any program the caller runs; the checks apply to where they lead.
/// </summary>
public sealed partial class RegularFileSource(FileCaller? caller) : IFileSource
{
    /// <summary>For the host's own configs (root chose the path): file type and size only.</summary>
    public static RegularFileSource Host { get; } = new(null);

    public byte[] Read(string path, long maxBytes)
    {
        var before = Stat(-100 /* AT_FDCWD */, path, 0, path);
        Refuse(path, before, maxBytes);
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) throw Failure(path, Marshal.GetLastPInvokeError());
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var opened = Stat(fd, "", AT_EMPTY_PATH, path);
        Refuse(path, opened, maxBytes);
        if (caller is { Uid: not 0 } who) CheckCaller(path, fd, opened, who);
        using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        return BoundedFileSource.ReadBounded(stream, path, maxBytes);
    }

    private static void Refuse(string path, FileStat stat, long maxBytes)
    {
        if (stat.Type != S_IFREG) throw new FileRefusedException($"{path}: {Describe(stat.Type)}, not a regular file; name a regular file");
        if (stat.Size > maxBytes) throw BoundedFileSource.TooLarge(path, maxBytes);
    }

    private static void CheckCaller(string path, int fd, FileStat file, FileCaller who)
    {
        string real;
        try
        {
            real = File.ResolveLinkTarget($"/proc/self/fd/{fd}", returnFinalTarget: false)?.FullName ?? path;
        }
        catch (IOException)
        {
            real = Path.GetFullPath(path);
        }
        if (!Allows(file, who, 4))
            throw new FileRefusedException($"{path}: {who} may not read it (mode {Convert.ToString(file.Mode & 0xFFF, 8)}, owner {file.Uid}:{file.Gid}); the daemon reads a file named over the API only when its caller could");
        for (string? dir = Path.GetDirectoryName(real); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            var stat = Stat(-100, dir, 0, dir);
            if (!Allows(stat, who, 1))
                throw new FileRefusedException($"{path}: {who} may not enter {dir}; the daemon reads a file named over the API only when its caller could");
        }
    }

    /// <summary>The kernel's mode-bit check (generic_permission without ACLs or capabilities) for <paramref name="bit"/> (4 read, 1 search).</summary>
    internal static bool Allows(FileStat stat, FileCaller who, int bit)
    {
        int shift = stat.Uid == who.Uid ? 6 : who.Groups.Contains(stat.Gid) ? 3 : 0;
        return ((stat.Mode >> shift) & bit) != 0;
    }

    private static string Describe(int type) => type switch
    {
        S_IFIFO => "a FIFO",
        S_IFCHR => "a character device",
        S_IFBLK => "a block device",
        S_IFDIR => "a directory",
        S_IFSOCK => "a socket",
        _ => "not a file",
    };

    internal readonly record struct FileStat(int Type, int Mode, uint Uid, uint Gid, long Size);

    private static FileStat Stat(int dirfd, string path, int flags, string shown)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (statx(dirfd, path, flags, STATX_BASIC_STATS, ref MemoryMarshal.GetReference(buffer)) != 0)
            throw Failure(shown, Marshal.GetLastPInvokeError());
        int mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
        return new FileStat(mode & S_IFMT, mode & 0xFFF, BinaryPrimitives.ReadUInt32LittleEndian(buffer[20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[24..]), (long)BinaryPrimitives.ReadUInt64LittleEndian(buffer[40..]));
    }

    private static IOException Failure(string path, int errno) => errno switch
    {
        ENOENT or ENOTDIR => new FileNotFoundException($"{path}: no such file", path),
        EACCES or EPERM => new FileRefusedException($"{path}: permission denied"),
        _ => new IOException($"{path}: {Marshal.GetPInvokeErrorMessage(errno)}"),
    };

    // asm-generic values, the same on x86_64 and aarch64.
    private const int O_RDONLY = 0;
    private const int O_NOCTTY = 0x100;
    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_BASIC_STATS = 0x7FF;
    private const int S_IFMT = 0xF000;
    private const int S_IFSOCK = 0xC000;
    private const int S_IFREG = 0x8000;
    private const int S_IFBLK = 0x6000;
    private const int S_IFDIR = 0x4000;
    private const int S_IFCHR = 0x2000;
    private const int S_IFIFO = 0x1000;
    private const int EPERM = 1;
    private const int ENOENT = 2;
    private const int EACCES = 13;
    private const int ENOTDIR = 20;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, ref byte buffer);
}
