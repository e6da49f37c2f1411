namespace Sluice.Core.Configuration;

/// <summary>
/// Replaces a file whole: the bytes go to a temporary file in the same folder, are flushed to disk,
/// then renamed over the old one, so a reader (or a start after a crash) sees the old content or the
/// new, never half of one.
/// </summary>
internal static class AtomicFile
{
    /// <exception cref="IOException">The folder cannot be created or the file written; the old file stays.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission; the old file stays.</exception>
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
