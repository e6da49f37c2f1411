using System.IO.Compression;

namespace Sluice.Daemon.ExternalUi;

/// <summary>
/// Unpacks a downloaded dashboard zip (untrusted bytes) into a fresh directory:
/// 1. every entry name is checked: relative, no "..", ".", empty or backslash segments, no drive letters;
/// 2. only files and directories are created — a symlink entry (Unix mode S_IFLNK) is refused, never made;
/// 3. caps on the entry count, each file's and the total unpacked size are enforced on the bytes actually
///    inflated, not on the sizes the archive claims;
/// 4. when every entry sits under one top folder ("yacd-gh-pages/…", as GitHub's zips have), it is dropped.
/// Any violation fails the whole archive: nothing of it is served.
/// </summary>
internal static class DashboardArchive
{
    public const int MaxEntries = 10_000;
    public const long MaxFileBytes = 64L * 1024 * 1024;
    public const long MaxTotalBytes = 256L * 1024 * 1024;
    private const int MaxDepth = 32;
    private const int UnixFileTypeMask = 0xF000;
    private const int UnixSymlink = 0xA000;

    /// <summary>Unpacks <paramref name="zip"/> into <paramref name="target"/> (which must not exist yet).</summary>
    /// <exception cref="InvalidDataException">The archive is not a zip or breaks a rule; the message names the entry.</exception>
    public static void Extract(Stream zip, string target)
    {
        using var archive = OpenArchive(zip);
        if (archive.Entries.Count > MaxEntries)
            throw new InvalidDataException($"the archive has {archive.Entries.Count} entries; at most {MaxEntries}");
        var names = archive.Entries.Select(e => (Entry: e, Segments: Segments(e))).ToArray();
        if (names.Length == 0) throw new InvalidDataException("the archive is empty");
        int skip = CommonTopFolder(names) ? 1 : 0;

        Directory.CreateDirectory(target);
        long total = 0;
        int files = 0;
        foreach (var (entry, segments) in names)
        {
            var inner = segments.Skip(skip).ToArray();
            if (inner.Length == 0) continue;
            string path = Path.Join([target, .. inner]);
            if (IsDirectory(entry))
            {
                Directory.CreateDirectory(path);
                continue;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            total += Copy(entry, path, MaxTotalBytes - total);
            files++;
        }
        if (files == 0) throw new InvalidDataException("the archive holds no files");
    }

    private static ZipArchive OpenArchive(Stream zip)
    {
        try
        {
            return new ZipArchive(zip, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"not a zip archive ({e.Message})");
        }
    }

    private static bool IsDirectory(ZipArchiveEntry entry) => entry.FullName.EndsWith('/');

    /// <summary>The entry's path segments, after refusing every name that could leave the target.</summary>
    private static string[] Segments(ZipArchiveEntry entry)
    {
        string name = entry.FullName;
        int unixMode = (entry.ExternalAttributes >> 16) & 0xFFFF;
        if ((unixMode & UnixFileTypeMask) == UnixSymlink)
            throw new InvalidDataException($"entry \"{name}\" is a symbolic link; links are not unpacked");
        if (name.Length == 0 || name.Contains('\\') || name.Contains('\0') || name.StartsWith('/') || (name.Length >= 2 && name[1] == ':'))
            throw new InvalidDataException($"entry \"{name}\" is not a relative path");
        var segments = name.TrimEnd('/').Split('/');
        if (segments.Length > MaxDepth) throw new InvalidDataException($"entry \"{name}\" is nested deeper than {MaxDepth}");
        foreach (string s in segments)
            if (s is "" or "." or "..")
                throw new InvalidDataException($"entry \"{name}\" has a \"{s}\" segment; it could be unpacked outside the dashboard folder");
        return segments;
    }

    /// <summary>All entries under one folder: only that folder's own entry and what lies below it.</summary>
    private static bool CommonTopFolder((ZipArchiveEntry Entry, string[] Segments)[] all)
    {
        string top = all[0].Segments[0];
        bool anyDeeper = false;
        foreach (var (entry, segments) in all)
        {
            if (segments[0] != top || (segments.Length == 1 && !IsDirectory(entry))) return false;
            if (segments.Length > 1) anyDeeper = true;
        }
        return anyDeeper;
    }

    private static long Copy(ZipArchiveEntry entry, string path, long budget)
    {
        using var source = entry.Open();
        // CreateNew: an archive naming one file twice fails instead of overwriting.
        using var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        var buffer = new byte[81920];
        long written = 0;
        int read;
        while ((read = source.Read(buffer)) > 0)
        {
            written += read;
            if (written > MaxFileBytes) throw new InvalidDataException($"entry \"{entry.FullName}\" unpacks to more than {MaxFileBytes >> 20} MiB");
            if (written > budget) throw new InvalidDataException($"the archive unpacks to more than {MaxTotalBytes >> 20} MiB");
            target.Write(buffer, 0, read);
        }
        return written;
    }
}
