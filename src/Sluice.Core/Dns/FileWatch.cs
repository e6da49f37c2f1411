namespace Sluice.Core.Dns;

/// <summary>
/// Calls back when any of some files changes on disk: a different modification time, size, final target
/// (symlinks followed) or existence counts as a change. /etc/resolv.conf is usually a symlink whose target
/// is replaced by rename (resolvconf, NetworkManager, systemd-resolved), which a watch on the file itself
/// misses; so with an <see cref="IFileChangeNotifier"/> the directories are watched: the one holding each
/// path, the ones holding each link's targets along the chain (the nearest existing ancestor when one is
/// missing, so its creation is seen), re-chosen after every change. Without a notifier (none on the
/// platform, or inotify unavailable) the files are stat-ed every <see cref="Interval"/>.
/// The callback runs on the notifier's thread or a timer thread, one at a time.
/// </summary>
internal sealed class FileWatch : IDisposable
{
    /// <summary>How often the files are looked at without a notifier: 2 s, so an edited hosts file or a new network's resolver is in use almost at once.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private const int MaxLinkHops = 40; // as the kernel's ELOOP limit

    private readonly string[] _paths;
    private readonly Action _changed;
    private readonly Stamp[] _stamps;
    private readonly ITimer? _timer;
    private readonly IFileChangeNotifier? _notifier;
    private readonly object _watchLock = new();
    private List<IDisposable> _watches = [];
    private bool _disposed;
    private int _checksAsked; // looks asked for since the running one began; 0 when none runs

    public FileWatch(IEnumerable<string> paths, TimeProvider time, Action changed, IFileChangeNotifier? notifier = null)
    {
        _paths = paths.ToArray();
        _changed = changed;
        _stamps = _paths.Select(StampOf).ToArray();
        _notifier = notifier;
        if (notifier is null) _timer = time.CreateTimer(_ => Check(), null, Interval, Interval);
        else
        {
            Rewatch();
            Check(); // a change between the first stamps and the watches
        }
    }

    /// <summary>The directories watched now (for tests).</summary>
    internal IReadOnlyList<string> WatchedDirectories { get; private set; } = [];

    private void OnDirectoryChanged()
    {
        Rewatch(); // first, so a change made while the watches move is still seen by the look below
        Check();
    }

    /// <summary>Watches the directories the paths resolve through now; the new watches are added before the old ones go.</summary>
    private void Rewatch()
    {
        var directories = _paths.SelectMany(DirectoriesOf).Distinct(StringComparer.Ordinal).ToList();
        var added = new List<IDisposable>(directories.Count);
        foreach (var directory in directories)
            if (_notifier!.Watch(directory, OnDirectoryChanged) is { } watch) added.Add(watch);
        List<IDisposable> old;
        lock (_watchLock)
        {
            if (_disposed)
            {
                old = added;
            }
            else
            {
                old = _watches;
                _watches = added;
                WatchedDirectories = directories;
            }
        }
        foreach (var watch in old) watch.Dispose();
    }

    /// <summary>The directory of the path and of each link target along its chain; for one that is missing, its nearest existing ancestor.</summary>
    internal static IEnumerable<string> DirectoriesOf(string path)
    {
        string current = Path.GetFullPath(path);
        for (int hop = 0; hop <= MaxLinkHops; hop++)
        {
            yield return ExistingDirectoryOf(current);
            string? target;
            try
            {
                target = new FileInfo(current).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                yield break;
            }
            if (target is null) yield break;
            current = Path.GetFullPath(target, Path.GetDirectoryName(current) ?? "/");
        }
    }

    private static string ExistingDirectoryOf(string path)
    {
        string? directory = Path.GetDirectoryName(path);
        while (directory is not null && !Directory.Exists(directory)) directory = Path.GetDirectoryName(directory);
        return directory ?? "/";
    }

    /// <summary>
    /// Looks at the files now; calls back once if any changed since the last look. A call that arrives while a
    /// look runs (a notifier event during the callback, or a timer tick) is not dropped: the running look goes
    /// round again, so a change made after it read a file's stamp is still reported, without two looks at once.
    /// </summary>
    internal void Check()
    {
        if (Interlocked.Increment(ref _checksAsked) != 1) return; // the running look will go round again
        int asked;
        do
        {
            asked = Volatile.Read(ref _checksAsked);
            bool changed = false;
            for (int i = 0; i < _paths.Length; i++)
            {
                var now = StampOf(_paths[i]);
                if (now == _stamps[i]) continue;
                _stamps[i] = now;
                changed = true;
            }
            try
            {
                if (changed && !Volatile.Read(ref _disposed)) _changed();
            }
            catch
            {
                Volatile.Write(ref _checksAsked, 0); // the next event starts a fresh look
                throw;
            }
        }
        while (Interlocked.Add(ref _checksAsked, -asked) != 0);
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

    public void Dispose()
    {
        _timer?.Dispose();
        List<IDisposable> watches;
        lock (_watchLock)
        {
            _disposed = true;
            watches = _watches;
            _watches = [];
        }
        foreach (var watch in watches) watch.Dispose();
    }

    private readonly record struct Stamp(string Target, long Modified, long Length);
}
