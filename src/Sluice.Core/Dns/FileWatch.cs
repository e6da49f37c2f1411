namespace Sluice.Core.Dns;

/// <summary>
/// Calls back when any of some files changes on disk: every <see cref="Interval"/> each path's final
/// target (symlinks followed) is stat-ed, and a different modification time, size, target or
/// existence counts as a change. Polling rather than inotify: /etc/resolv.conf is usually a symlink
/// whose target is replaced by rename (resolvconf, NetworkManager, systemd-resolved), which a watch
/// on the link or its directory misses; one stat per file every few seconds costs nothing.
/// The callback runs on a timer thread, one at a time.
/// </summary>
internal sealed class FileWatch : IDisposable
{
    /// <summary>How often the files are looked at: 2 s, so an edited hosts file or a new network's resolver is in use almost at once.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly string[] _paths;
    private readonly Action _changed;
    private readonly Stamp[] _stamps;
    private readonly ITimer _timer;
    private int _checking;

    public FileWatch(IEnumerable<string> paths, TimeProvider time, Action changed)
    {
        _paths = paths.ToArray();
        _changed = changed;
        _stamps = _paths.Select(StampOf).ToArray();
        _timer = time.CreateTimer(_ => Check(), null, Interval, Interval);
    }

    /// <summary>Looks at the files now; calls back once if any changed since the last look.</summary>
    internal void Check()
    {
        if (Interlocked.Exchange(ref _checking, 1) == 1) return; // the previous check is still running
        try
        {
            bool changed = false;
            for (int i = 0; i < _paths.Length; i++)
            {
                var now = StampOf(_paths[i]);
                if (now == _stamps[i]) continue;
                _stamps[i] = now;
                changed = true;
            }
            if (changed) _changed();
        }
        finally
        {
            Volatile.Write(ref _checking, 0);
        }
    }

    private static Stamp StampOf(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null) info = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
            // A missing file (or a dangling link) is a state of its own, seen without an exception.
            return info.Exists ? new Stamp(info.FullName, info.LastWriteTimeUtc.Ticks, info.Length) : new Stamp(info.FullName, 0, -1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Stamp(path, 0, -2);
        }
    }

    public void Dispose() => _timer.Dispose();

    private readonly record struct Stamp(string Target, long Modified, long Length);
}
