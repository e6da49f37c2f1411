namespace Sluice.Core.Subscriptions;

/// <summary>
/// The last good body of a subscription on disk, so a start without the provider still has servers.
/// Written to a temporary file in the same folder, flushed, then renamed over the old one: a reader
/// (or a start after a crash) sees the old body or the new one, never half of one.
/// Only bodies that parsed into at least one server are written.
/// </summary>
internal sealed class SubscriptionCache(string path)
{
    public string Path { get; } = path;

    /// <summary>The cached body and when it was written; null when there is none or it cannot be read.</summary>
    public (string Body, DateTime WrittenUtc)? TryRead(out string? error)
    {
        error = null;
        try
        {
            if (!File.Exists(Path)) return null;
            return (File.ReadAllText(Path), File.GetLastWriteTimeUtc(Path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = e.Message;
            return null;
        }
    }

    /// <exception cref="IOException">The folder cannot be created or the file written; the old cache stays.</exception>
    public void Write(string body) =>
        // The body carries server passwords: the folder and the file are root's alone.
        Configuration.AtomicFile.Write(Path, System.Text.Encoding.UTF8.GetBytes(body), ownerOnly: true);
}
