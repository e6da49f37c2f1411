using System.Runtime.InteropServices;

namespace Sluice.Daemon;

/// <summary>
/// Watches the app that asked for `up {pid}` through a pidfd (pidfd_open(2), Linux 5.3+): the fd names that
/// process, not its number, so a recycled pid can never be mistaken for it. When the process exits the fd
/// polls readable and <c>exited</c> runs once, on the watch's own thread.
/// </summary>
internal sealed partial class AppExitWatch : IDisposable
{
    private const int SysPidfdOpen = 434; // the same number on every Linux architecture (unified table)
    private const short PollIn = 0x1;
    private readonly int _fd;
    private volatile bool _disposed;

    private AppExitWatch(int pid, int fd, Action<int> exited)
    {
        Pid = pid;
        _fd = fd;
        var thread = new Thread(() => Run(exited)) { IsBackground = true, Name = $"app-exit-{pid}" };
        thread.Start();
    }

    public int Pid { get; }

    /// <summary>Starts watching; throws with a message for a person when there is no such process.</summary>
    public static AppExitWatch Start(int pid, Action<int> exited)
    {
        int fd = (int)Syscall(SysPidfdOpen, pid, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new InvalidOperationException(errno == 3
                ? $"params.pid {pid}: no such process"
                : $"params.pid {pid}: cannot watch it (pidfd_open: {Marshal.GetPInvokeErrorMessage(errno)})");
        }
        return new AppExitWatch(pid, fd, exited);
    }

    private unsafe void Run(Action<int> exited)
    {
        var poll = new PollFd { Fd = _fd, Events = PollIn };
        while (!_disposed)
        {
            // A short timeout so Dispose is noticed without signalling the thread.
            int n = Poll(&poll, 1, 250);
            if (_disposed) return;
            if (n > 0 && (poll.Revents & PollIn) != 0)
            {
                exited(Pid);
                return;
            }
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Closing while the thread polls is safe: poll returns at its timeout and the thread sees _disposed.
        Thread.Sleep(0);
        Close(_fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, ulong count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
