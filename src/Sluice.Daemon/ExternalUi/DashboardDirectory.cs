using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sluice.Daemon.ExternalUi;

/// <summary>
/// A directory of dashboard files, opened read-only for requests whose paths come from the network.
/// One openat2(2) per file resolves the path beneath the directory with no symlink at any step
/// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so "..", absolute paths and links out are refused by the kernel,
/// with no window between a check and the open. The result must be a regular file (fstat after an
/// O_NONBLOCK open, so a FIFO or device cannot stall the request); a directory serves its index.html.
/// </summary>
internal sealed partial class DashboardDirectory : IDisposable
{
    private const int MaxPathLength = 1024;
    private const int MaxSegments = 32;

    private readonly SafeFileHandle _root;

    private DashboardDirectory(string path, SafeFileHandle root)
    {
        Path = path;
        _root = root;
    }

    public string Path { get; }

    /// <summary>Opens <paramref name="path"/> (the directory itself may be a link: the admin chose it).</summary>
    public static DashboardDirectory Open(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        int fd = open(full, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw new IOException($"cannot open the dashboard directory {full}: {Marshal.GetLastPInvokeErrorMessage()}");
        return new DashboardDirectory(full, new SafeFileHandle(fd, ownsHandle: true));
    }

    /// <summary>True when the directory holds at least one entry (an empty one is not a dashboard yet).</summary>
    public static bool HasFiles(string path) => Directory.Exists(path) && Directory.EnumerateFileSystemEntries(path).Any();

    /// <summary>
    /// The file at <paramref name="relative"/> ("assets/index.js"; "" = index.html), open for reading, or null with
    /// the reason a person reads in a 404 (never the directory's own path).
    /// </summary>
    public FileStream? OpenFile(string relative, out string? refusal)
    {
        refusal = Validate(relative);
        if (refusal is not null) return null;
        var file = OpenRegular(relative.Length == 0 ? "index.html" : relative, out refusal, out bool isDirectory);
        if (file is null && isDirectory) file = OpenRegular(relative.TrimEnd('/') + "/index.html", out refusal, out _);
        return file;
    }

    /// <summary>Segment rules the kernel would also enforce, checked first for a clear answer.</summary>
    private static string? Validate(string relative)
    {
        if (relative.Length > MaxPathLength) return "path too long";
        if (relative.StartsWith('/') || relative.Contains('\\') || relative.Contains('\0')) return "not a path inside the dashboard";
        var segments = relative.Split('/');
        if (segments.Length > MaxSegments) return "path too deep";
        for (int i = 0; i < segments.Length; i++)
        {
            string s = segments[i];
            if (s is "." or "..") return "not a path inside the dashboard";
            if (s.Length == 0 && i != segments.Length - 1) return "not a path inside the dashboard";
        }
        return null;
    }

    private FileStream? OpenRegular(string relative, out string? refusal, out bool isDirectory)
    {
        isDirectory = false;
        var how = new OpenHow { Flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, Resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
        bool added = false;
        _root.DangerousAddRef(ref added);
        int fd;
        try
        {
            fd = (int)openat2(SYS_openat2, _root.DangerousGetHandle().ToInt32(), relative, ref how, (nuint)Marshal.SizeOf<OpenHow>());
        }
        finally
        {
            if (added) _root.DangerousRelease();
        }
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            refusal = errno switch
            {
                ENOENT or ENOTDIR => "no such file",
                ELOOP => "links are not served",
                EXDEV => "not a path inside the dashboard",
                _ => "cannot be read",
            };
            return null;
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        Span<byte> stat = stackalloc byte[256];
        if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, ref MemoryMarshal.GetReference(stat)) != 0)
        {
            handle.Dispose();
            refusal = "cannot be read";
            return null;
        }
        int type = BinaryPrimitives.ReadUInt16LittleEndian(stat[28..]) & S_IFMT;
        if (type != S_IFREG)
        {
            handle.Dispose();
            isDirectory = type == S_IFDIR;
            refusal = "not a regular file";
            return null;
        }
        refusal = null;
        return new FileStream(handle, FileAccess.Read, bufferSize: 0);
    }

    public void Dispose() => _root.Dispose();

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    // asm-generic values, the same on x86_64 and aarch64; openat2 is syscall 437 on both (Linux 5.6+).
    private const long SYS_openat2 = 437;
    private const int O_RDONLY = 0;
    private const int O_NOCTTY = 0x100;
    private const int O_NONBLOCK = 0x800;
    private const int O_DIRECTORY = 0x10000;
    private const int O_CLOEXEC = 0x80000;
    private const int O_PATH = 0x200000;
    private const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    private const ulong RESOLVE_NO_SYMLINKS = 0x04;
    private const ulong RESOLVE_BENEATH = 0x08;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_TYPE = 0x1;
    private const int S_IFMT = 0xF000;
    private const int S_IFREG = 0x8000;
    private const int S_IFDIR = 0x4000;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int EXDEV = 18;
    private const int ELOOP = 40;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long openat2(long number, int dirfd, string path, ref OpenHow how, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, ref byte buffer);
}
