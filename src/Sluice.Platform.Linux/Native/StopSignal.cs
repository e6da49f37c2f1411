namespace Sluice.Platform.Linux.Native;

/// <summary>
/// An eventfd that a blocking poll watches beside its own fd, so stopping wakes the poller at once. The
/// readers used to poll in 250–300 ms slices to notice a stop flag: four wake-ups a second per idle
/// thread (issue #19's idle cost); with this they sleep until a packet or the stop arrives.
/// </summary>
internal sealed unsafe class StopSignal : IDisposable
{
    private const int EFD_NONBLOCK = 0x800;
    private const int EFD_CLOEXEC = 0x80000;

    private readonly FdHandle _fd;
    private int _raised;

    public StopSignal()
    {
        int fd = Libc.EventFd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) throw new IOException($"eventfd failed: {Libc.ErrorText(Libc.LastError)}");
        _fd = new FdHandle(fd);
    }

    public bool IsRaised => Volatile.Read(ref _raised) != 0;

    /// <summary>
    /// poll(2) on <paramref name="fd"/> for <paramref name="events"/> and on the signal, without a timeout
    /// (or <paramref name="timeoutMs"/>). Returns poll's result (−1 with errno set on failure) and the fd's
    /// revents; a raised signal returns with revents 0.
    /// </summary>
    public int Wait(int fd, short events, out short revents, int timeoutMs = -1)
    {
        revents = 0;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return 1; // stopped and gone: the caller sees no events and its own stop flag
        }
        try
        {
            if (IsRaised) return 1;
            var fds = stackalloc Libc.PollFd[2];
            fds[0] = new Libc.PollFd { Fd = fd, Events = events };
            fds[1] = new Libc.PollFd { Fd = _fd.Fd, Events = Libc.POLLIN };
            int ready = Libc.Poll(fds, 2, timeoutMs);
            revents = fds[0].Revents;
            return ready;
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>Wakes every current and later <see cref="Wait"/>; the eventfd stays readable.</summary>
    public void Raise()
    {
        if (Interlocked.Exchange(ref _raised, 1) != 0) return;
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            ulong one = 1;
            Libc.Write(_fd.Fd, (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>Raises, then closes the eventfd once no <see cref="Wait"/> holds it.</summary>
    public void Dispose()
    {
        Raise();
        _fd.Dispose();
    }
}
