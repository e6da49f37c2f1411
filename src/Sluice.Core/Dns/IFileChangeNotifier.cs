namespace Sluice.Core.Dns;

/// <summary>
/// Tells when something in a directory changes (a file written, created, removed, renamed in or out, its
/// attributes changed, or the directory itself removed), so <see cref="FileWatch"/> looks at its files only
/// then instead of polling. Platform projects provide it (inotify on Linux); disposing it ends its thread.
/// </summary>
public interface IFileChangeNotifier : IDisposable
{
    /// <summary>
    /// Calls <paramref name="changed"/> (on the notifier's own thread, one call at a time) after each change in
    /// <paramref name="directory"/> until the result is disposed; after the directory itself is removed or
    /// renamed it calls once more and then no longer. Null when the directory cannot be watched (it does not exist).
    /// </summary>
    IDisposable? Watch(string directory, Action changed);
}
