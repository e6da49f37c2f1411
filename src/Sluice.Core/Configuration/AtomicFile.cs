namespace Sluice.Core.Configuration;

/// <summary>
/// Replaces a file whole: the bytes go to a temporary file in the same folder, are flushed to disk,
/// then renamed over the old one, so a reader (or a start after a crash) sees the old content or the
/// new, never half of one.
/// </summary>
public static class AtomicFile
{
    /// <exception cref="IOException">The folder cannot be created or the file written; the old file stays.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission; the old file stays.</exception>
    /// <param name="ownerOnly">A folder created here is 0700 and the file 0600 (secrets); otherwise the umask decides.</param>
    public static void Write(string path, ReadOnlySpan<byte> content, bool ownerOnly = false)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        if (ownerOnly) Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        else Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (ownerOnly) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (var stream = new FileStream(temp, options))
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
