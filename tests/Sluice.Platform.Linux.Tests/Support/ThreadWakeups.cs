namespace Sluice.Platform.Linux.Tests.Support;

/// <summary>How often a thread was scheduled off its core (voluntary + nonvoluntary context switches), from /proc.</summary>
internal static class ThreadWakeups
{
    /// <summary>The calling thread's kernel id (the first field of /proc/thread-self/stat).</summary>
    public static int CurrentThreadId() => int.Parse(File.ReadAllText("/proc/thread-self/stat").Split(' ')[0]);

    public static long Of(int threadId)
    {
        long total = 0;
        foreach (var line in File.ReadLines($"/proc/self/task/{threadId}/status"))
            if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                total += long.Parse(line[(line.IndexOf(':') + 1)..].Trim());
        return total;
    }

    /// <summary>Runs <paramref name="blockingCall"/> on its own thread and counts its context switches over <paramref name="idle"/> (after a settling moment).</summary>
    public static (Task<T> Call, long Wakeups) WhileBlocked<T>(Func<T> blockingCall, TimeSpan idle)
    {
        int threadId = 0;
        using var started = new ManualResetEventSlim();
        var call = Task.Factory.StartNew(() =>
        {
            threadId = CurrentThreadId();
            started.Set();
            return blockingCall();
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        started.Wait();
        Thread.Sleep(200);
        long before = Of(threadId);
        Thread.Sleep(idle);
        return (call, Of(threadId) - before);
    }
}
