using System.Diagnostics;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>
/// Maps socket inodes to the process holding them, from the <c>socket:[INODE]</c> links in
/// <c>/proc/[pid]/fd/</c>. The map is rebuilt whole on a miss and published as an immutable
/// snapshot, so lookups never lock. Invariants:
/// 1. a hit is verified (the fd link still names the inode), so a stale map never answers wrong;
/// 2. a miss is answered by a scan that began after the miss (a new process's socket is found),
///    and misses arriving during a scan share it instead of starting their own;
/// 3. an inode a recent scan could not place (no fd holds it) is not rescanned for
///    <see cref="NegativeTtl"/>, so a burst of packets from such a socket costs one scan.
/// </summary>
internal sealed unsafe class ProcSocketIndex
{
    private static readonly TimeSpan NegativeTtl = TimeSpan.FromSeconds(1);
    private const int MaxNegativeEntries = 4096;

    private readonly object _scanLock = new();
    private volatile Snapshot _snapshot = new(new Dictionary<ulong, (int, int)>(), 0);
    private readonly Dictionary<ulong, long> _unplaced = new(); // inode → timestamp of the scan that missed it; under _scanLock

    private sealed record Snapshot(Dictionary<ulong, (int Pid, int Fd)> Map, long StartedAt);

    /// <summary>Scans so far (for tests and metrics).</summary>
    public int Scans { get; private set; }

    /// <summary>The pid holding the socket, or 0 when no process has an fd for it.</summary>
    public int FindPid(ulong inode)
    {
        long missAt = Stopwatch.GetTimestamp();
        if (TryGet(_snapshot, inode, out int pid)) return pid;

        lock (_scanLock)
        {
            var snapshot = _snapshot;
            if (snapshot.StartedAt <= missAt)
            {
                if (_unplaced.TryGetValue(inode, out long missedAt) && Stopwatch.GetElapsedTime(missedAt) < NegativeTtl)
                    return 0;
                snapshot = Scan();
                _snapshot = snapshot;
            }
            if (TryGet(snapshot, inode, out pid))
            {
                _unplaced.Remove(inode);
                return pid;
            }
            if (_unplaced.Count >= MaxNegativeEntries) _unplaced.Clear();
            _unplaced[inode] = snapshot.StartedAt;
            return 0;
        }
    }

    /// <summary>
    /// The pid from the current map without scanning: false when only a scan could answer (an inode not in
    /// the map, not recently found unplaced, or a scan under way that holds the lock).
    /// </summary>
    public bool TryFindPidCached(ulong inode, out int pid)
    {
        if (TryGet(_snapshot, inode, out pid)) return true;
        if (!Monitor.TryEnter(_scanLock)) return false;
        try
        {
            pid = 0;
            return _unplaced.TryGetValue(inode, out long missedAt) && Stopwatch.GetElapsedTime(missedAt) < NegativeTtl;
        }
        finally
        {
            Monitor.Exit(_scanLock);
        }
    }

    private static bool TryGet(Snapshot snapshot, ulong inode, out int pid)
    {
        pid = 0;
        if (!snapshot.Map.TryGetValue(inode, out var entry)) return false;
        if (LinkInode($"/proc/{entry.Pid}/fd/{entry.Fd}") != inode) return false;
        pid = entry.Pid;
        return true;
    }

    private Snapshot Scan()
    {
        long started = Stopwatch.GetTimestamp();
        var map = new Dictionary<ulong, (int, int)>(_snapshot.Map.Count + 64);
        foreach (var processDir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(processDir.AsSpan()), out int pid)) continue;
            try
            {
                foreach (var fdPath in Directory.EnumerateFileSystemEntries(processDir + "/fd"))
                {
                    ulong inode = LinkInode(fdPath);
                    if (inode == 0 || !int.TryParse(Path.GetFileName(fdPath.AsSpan()), out int fd)) continue;
                    map.TryAdd(inode, (pid, fd)); // a socket shared by processes: the first (lowest pid, usually the parent) wins
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process exited during the scan, or its fds are not ours to read.
            }
        }
        Scans++;
        return new Snapshot(map, started);
    }

    /// <summary>The inode N of a <c>socket:[N]</c> link, or 0.</summary>
    internal static ulong LinkInode(string path)
    {
        byte* buffer = stackalloc byte[64];
        nint n = Libc.Readlink(path, buffer, 64);
        if (n < 10 || n >= 64) return 0;
        var text = new ReadOnlySpan<byte>(buffer, (int)n);
        if (!text.StartsWith("socket:["u8) || text[^1] != (byte)']') return 0;
        ulong inode = 0;
        foreach (byte b in text[8..^1])
        {
            if (b is < (byte)'0' or > (byte)'9') return 0;
            inode = inode * 10 + (ulong)(b - '0');
        }
        return inode;
    }
}
