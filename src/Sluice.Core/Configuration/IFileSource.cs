namespace Sluice.Core.Configuration;

/// <summary>
/// The one way Sluice reads a file a config names (the config itself, hosts <c>path</c>, <c>certificate_path</c>,
/// a subscription's <c>ca_file</c>, a local rule set). The root daemon reads them for a caller, so a source
/// refuses what is not a regular file (a FIFO would hang every action, <c>/dev/zero</c> never ends), anything
/// over the cap the call names (from <see cref="EngineLimits"/>), and, on a host that knows the caller, a
/// file the caller could not read itself. Platforms supply the real one; <see cref="BoundedFileSource"/> is
/// the fallback of a host that has none.
/// </summary>
public interface IFileSource
{
    /// <summary>The whole file, at most <paramref name="maxBytes"/> bytes; <see cref="FileRefusedException"/> (an IOException) says why not.</summary>
    byte[] Read(string path, long maxBytes);
}

/// <summary>Who asked for a file: the uid and the groups (primary and supplementary) of an API caller.</summary>
public sealed record FileCaller(uint Uid, IReadOnlyList<uint> Groups)
{
    public override string ToString() => $"uid {Uid}";
}

/// <summary>A file a source would not read; the message names the path and the reason (the cap, the file type, the caller).</summary>
public sealed class FileRefusedException(string message) : IOException(message);

/// <summary>
/// The fallback source for hosts without a platform one (embedding, unit tests): directories are refused and
/// at most the cap plus one byte is read, so <c>/dev/zero</c> ends with a refusal. Without an OS call it cannot
/// tell a FIFO from a file before opening it, so a platform that reads paths for others supplies its own.
/// </summary>
public sealed class BoundedFileSource : IFileSource
{
    public static BoundedFileSource Instance { get; } = new();

    public byte[] Read(string path, long maxBytes)
    {
        if (Directory.Exists(path)) throw new FileRefusedException($"{path}: is a directory, not a regular file");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        return ReadBounded(stream, path, maxBytes);
    }

    /// <summary>Reads <paramref name="stream"/> to its end, refusing it once it passes <paramref name="maxBytes"/>.</summary>
    public static byte[] ReadBounded(Stream stream, string path, long maxBytes)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        while (true)
        {
            int n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, maxBytes + 1 - buffer.Length));
            if (n == 0) break;
            buffer.Write(chunk, 0, n);
            if (buffer.Length > maxBytes) throw TooLarge(path, maxBytes);
        }
        return buffer.ToArray();
    }

    /// <summary>The refusal of a file over its cap, naming the cap.</summary>
    public static FileRefusedException TooLarge(string path, long maxBytes) =>
        new($"{path}: larger than the {Describe(maxBytes)} cap for this file (EngineLimits); refusing to read it");

    private static string Describe(long bytes) =>
        bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB" : bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes}-byte";
}
