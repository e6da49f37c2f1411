using System.Runtime.InteropServices;
using Sluice.Core.Dns;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux.Files;

/// <summary>
/// <see cref="IFileChangeNotifier"/> by inotify: one inotify descriptor and one thread that sleeps in poll(2)
/// on it and a stop eventfd, so watching costs no wake-up until something changes (the 2 s stat poll it
/// replaces woke the timer thread and two pool workers every 2 s; issue #19). Watches of the same directory
/// share the kernel's watch (inotify_add_watch returns the same descriptor) and are counted; the last one
/// disposed removes it. Callbacks run on the notifier's thread, each watch's once per batch of events.
/// </summary>
public sealed unsafe partial class LinuxFileChangeNotifier : IFileChangeNotifier
{
    private const int IN_NONBLOCK = 0x800;
    private const int IN_CLOEXEC = 0x80000;
    private const uint IN_MODIFY = 0x2, IN_ATTRIB = 0x4, IN_CLOSE_WRITE = 0x8, IN_MOVED_FROM = 0x40, IN_MOVED_TO = 0x80;
    private const uint IN_CREATE = 0x100, IN_DELETE = 0x200, IN_DELETE_SELF = 0x400, IN_MOVE_SELF = 0x800, IN_IGNORED = 0x8000;
    private const uint IN_ONLYDIR = 0x1000000;
    private const uint Mask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
        | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
    private const int EventHeader = 16; // struct inotify_event: wd, mask, cookie, len; then len bytes of name

    private readonly FdHandle _fd;
    private readonly StopSignal _stop = new();
    private readonly Dictionary<int, List<Registration>> _byDescriptor = [];
    private readonly object _lock = new();
    private readonly Thread _thread;
    private bool _disposed; // guarded by _lock: no inotify call on a closed (maybe reused) descriptor number

    /// <exception cref="IOException">inotify is unavailable (inotify_init1 failed: no kernel support, or the per-user instance limit).</exception>
    public LinuxFileChangeNotifier()
    {
        int fd = InotifyInit(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
        {
            int errno = Libc.LastError;
            _stop.Dispose();
            throw new IOException($"inotify_init1 failed: {Libc.ErrorText(errno)}");
        }
        _fd = new FdHandle(fd);
        _thread = new Thread(Run) { IsBackground = true, Name = "sluice-file-changes" };
        _thread.Start();
    }

    /// <summary>The notifier thread's kernel id, once it runs (for tests that count its wake-ups).</summary>
    internal int ThreadId { get; private set; }

    public IDisposable? Watch(string directory, Action changed)
    {
        lock (_lock)
        {
            if (_disposed) return null;
            int wd = AddWatch(_fd.Fd, directory, Mask);
            if (wd < 0) return null; // missing, not a directory, no permission, or the watch limit (ENOSPC)
            var registration = new Registration(this, wd, changed);
            if (!_byDescriptor.TryGetValue(wd, out var list)) _byDescriptor[wd] = list = [];
            list.Add(registration);
            return registration;
        }
    }

    private void Remove(Registration registration)
    {
        lock (_lock)
        {
            if (_disposed || !_byDescriptor.TryGetValue(registration.Descriptor, out var list) || !list.Remove(registration)) return;
            if (list.Count > 0) return;
            _byDescriptor.Remove(registration.Descriptor);
            RemoveWatch(_fd.Fd, registration.Descriptor);
        }
    }

    private void Run()
    {
        ThreadId = GetTid();
        byte[] buffer = new byte[64 * 1024];
        var woken = new List<Registration>();
        while (!_stop.IsRaised)
        {
            int ready = _stop.Wait(_fd.Fd, Libc.POLLIN, out short revents);
            if (_stop.IsRaised) return;
            if (ready < 0 && Libc.LastError == Libc.EINTR) continue;
            if (ready < 0 || (revents & Libc.POLLIN) == 0) return; // the descriptor is gone
            nint length;
            fixed (byte* p = buffer) length = Libc.Read(_fd.Fd, p, (nuint)buffer.Length);
            if (length <= 0) continue; // EAGAIN (another reader cannot exist) or EINTR
            Collect(buffer.AsSpan(0, (int)length), woken);
            foreach (var registration in woken)
            {
                // A watch disposed since the events were read (by an earlier callback of this batch, or its owner
                // stopping) is not called.
                if (!registration.Active) continue;
                try
                {
                    registration.Changed();
                }
                catch (ObjectDisposedException)
                {
                    // Its owner was disposed while this callback ran: nothing to tell, and the others and this thread go on.
                }
            }
            woken.Clear();
        }
    }

    /// <summary>The callbacks of the watches these events concern, each once; watches of a removed directory end.</summary>
    private void Collect(ReadOnlySpan<byte> events, List<Registration> woken)
    {
        lock (_lock)
        {
            for (int offset = 0; offset + EventHeader <= events.Length;)
            {
                int wd = MemoryMarshal.Read<int>(events[offset..]);
                uint mask = MemoryMarshal.Read<uint>(events[(offset + 4)..]);
                int nameLength = MemoryMarshal.Read<int>(events[(offset + 12)..]);
                offset += EventHeader + nameLength;
                if (!_byDescriptor.TryGetValue(wd, out var list)) continue;
                foreach (var registration in list)
                    if (!woken.Exists(r => r.Changed.Equals(registration.Changed))) woken.Add(registration);
                if ((mask & IN_IGNORED) != 0) _byDescriptor.Remove(wd); // the kernel dropped the watch (directory removed)
            }
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        if (Environment.CurrentManagedThreadId != _thread.ManagedThreadId) _thread.Join(TimeSpan.FromSeconds(1));
        lock (_lock)
        {
            _disposed = true;
            _byDescriptor.Clear();
        }
        _fd.Dispose(); // a watch disposed later (a FileWatch that outlives the notifier) finds _disposed and does nothing
    }

    private sealed class Registration(LinuxFileChangeNotifier owner, int descriptor, Action changed) : IDisposable
    {
        private int _disposed;

        public int Descriptor => descriptor;

        public Action Changed => changed;

        public bool Active => Volatile.Read(ref _disposed) == 0;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Remove(this);
        }
    }

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial int InotifyInit(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int AddWatch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    private static partial int RemoveWatch(int fd, int wd);
}
