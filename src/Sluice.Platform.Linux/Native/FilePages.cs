using System.Globalization;
using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux.Native;

/// <summary>
/// The clean pages of the executable's read-only mappings (its code and read-only data): RSS counts every page mapped
/// there, and the kernel maps up to 16 pages around each one touched (fault-around, 64 KiB), so the start-up code
/// (config parsing, nftables, netlink) and its neighbours stay counted for the process's life: 12.5–14.5 MiB of the
/// native build's ~29 MiB idle RSS (bench/README.md, branch mem8). <see cref="ReleaseExecutable"/> unmaps them
/// (<c>madvise(MADV_DONTNEED)</c>); the pages stay in the page cache, and those used again are mapped back by the next
/// access (a minor fault, no I/O while the page cache holds them). Only mappings that cannot hold the process's own
/// data are touched: of that one file, private, not writable, and without a page of the process's own (smaps
/// "Anonymous: 0"; a section relocated and then made read-only has such pages and is skipped, since dropping them
/// would read back the file's unrelocated bytes). Shared libraries are left alone: the loader maps a library
/// (dlopen) in steps, and a range read here as read-only could be remapped and written before the madvise.
/// The executable's mappings are made by the kernel at exec and never change.
/// </summary>
public static partial class FilePages
{
    private const int MadvDontNeed = 4;

    /// <summary>Unmaps the clean pages of the executable's read-only mappings; returns the bytes of RSS they held.</summary>
    public static long ReleaseExecutable() => Environment.ProcessPath is { } exe ? Release(exe) : 0;

    /// <summary>Unmaps the clean pages of <paramref name="file"/>'s read-only private mappings; returns the bytes of RSS they held.</summary>
    public static long Release(string file) => Release(file, "/proc/self/smaps");

    internal static long Release(string file, string smapsPath)
    {
        string text;
        try
        {
            text = File.ReadAllText(smapsPath);
        }
        catch (IOException)
        {
            return 0;
        }
        long released = 0;
        foreach (var mapping in Parse(text))
        {
            if (!mapping.Releasable || mapping.Path != file) continue;
            if (Madvise((nint)mapping.Start, (nuint)(mapping.End - mapping.Start), MadvDontNeed) == 0) released += mapping.RssBytes;
        }
        return released;
    }

    /// <summary>One mapping of smaps: its range, permissions, path and the two counters that decide.</summary>
    internal readonly record struct Mapping(ulong Start, ulong End, string Permissions, string Path, long RssBytes, long AnonymousBytes)
    {
        /// <summary>File-backed (an absolute path), readable, not writable, private, with no page of the process's own.</summary>
        public bool Releasable => Path.StartsWith('/') && Permissions.Length == 4 && Permissions[0] == 'r' && Permissions[1] == '-'
            && Permissions[3] == 'p' && AnonymousBytes == 0 && RssBytes > 0;
    }

    internal static List<Mapping> Parse(string smaps)
    {
        var mappings = new List<Mapping>();
        ulong start = 0, end = 0;
        string permissions = "", path = "";
        long rss = 0, anonymous = -1;
        bool open = false;
        foreach (var raw in smaps.AsSpan().EnumerateLines())
        {
            var line = raw.TrimEnd();
            if (line.IsEmpty) continue;
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line[..dash], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var s)
                && ulong.TryParse(line[(dash + 1)..space], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var e))
            {
                if (open) mappings.Add(new Mapping(start, end, permissions, path, rss, anonymous));
                // "start-end perms offset dev inode   path": the path is what follows the fifth field.
                var rest = line[(space + 1)..];
                permissions = rest[..Math.Max(0, rest.IndexOf(' '))].ToString();
                for (int field = 0; field < 4 && !rest.IsEmpty; field++)
                {
                    int next = rest.IndexOf(' ');
                    rest = next < 0 ? ReadOnlySpan<char>.Empty : rest[(next + 1)..].TrimStart(' ');
                }
                (start, end, path, rss, anonymous, open) = (s, e, rest.ToString(), 0, -1, true);
                continue;
            }
            if (line.StartsWith("Rss:")) rss = Kilobytes(line);
            else if (line.StartsWith("Anonymous:")) anonymous = Kilobytes(line);
        }
        if (open) mappings.Add(new Mapping(start, end, permissions, path, rss, anonymous));
        return mappings;
    }

    // "Rss:                 123 kB"; a field missing (-1) keeps the mapping out.
    private static long Kilobytes(ReadOnlySpan<char> line)
    {
        var value = line[(line.IndexOf(':') + 1)..].Trim();
        int unit = value.IndexOf(' ');
        return long.TryParse(unit < 0 ? value : value[..unit], NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb * 1024 : -1;
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
