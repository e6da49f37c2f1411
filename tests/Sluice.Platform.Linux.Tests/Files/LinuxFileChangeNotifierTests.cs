using Sluice.Core.Dns;
using Sluice.Platform.Linux.Files;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Files;

/// <summary>inotify in place of the 2 s stat poll (issue #19): changes are seen at once, and nothing wakes while nothing changes.</summary>
public sealed class LinuxFileChangeNotifierTests : IDisposable
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(5);
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-inotify-").FullName;

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>A clock that never moves: a FileWatch on it can only learn of a change from the notifier, never from its poll.</summary>
    private sealed class StoppedClock : TimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new Never();

        private sealed class Never : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    [Fact]
    public void AWatchedResolvConfLink_IsSeenToChange_WhenItsTargetIsReplacedByRename_AndWhenTheLinkIsRepointedElsewhere_WithoutPolling()
    {
        string run = Directory.CreateDirectory(PathOf("run")).FullName, other = Directory.CreateDirectory(PathOf("run2")).FullName;
        string target = Path.Combine(run, "resolv.conf"), link = PathOf("resolv.conf");
        File.WriteAllText(target, "nameserver 192.0.2.1\n");
        File.CreateSymbolicLink(link, target);
        using var notifier = new LinuxFileChangeNotifier();
        using var changed = new SemaphoreSlim(0);
        using var watch = new FileWatch([link], new StoppedClock(), () => changed.Release(), notifier);
        Assert.Equal([_dir, run], watch.WatchedDirectories.Order(StringComparer.Ordinal));

        string staged = Path.Combine(run, ".resolv.conf.new");
        File.WriteAllText(staged, "nameserver 192.0.2.2\nnameserver 192.0.2.3\n");
        File.Move(staged, target, overwrite: true); // how systemd-resolved and resolvconf replace it
        Assert.True(changed.Wait(Soon), "a rename over the link's target was not seen");

        string moved = Path.Combine(other, "resolv.conf");
        File.WriteAllText(moved, "nameserver 198.51.100.1\n");
        string stagedLink = PathOf(".link.new");
        File.CreateSymbolicLink(stagedLink, moved);
        File.Move(stagedLink, link, overwrite: true); // the link now leads into another directory
        Assert.True(changed.Wait(Soon), "the repointed link was not seen");
        Assert.Equal([_dir, other], watch.WatchedDirectories.Order(StringComparer.Ordinal)); // the old target's directory is dropped

        File.WriteAllText(moved, "nameserver 198.51.100.2 # edited in place\n");
        Assert.True(changed.Wait(Soon), "an edit of the new target was not seen");
    }

    /// <summary>
    /// A watch's owner disposed while its events were being read (the engine stopping as resolv.conf changes): its
    /// callback meets a disposed object. That must not end the process or the notifier: other watches go on.
    /// </summary>
    [Fact]
    public void ACallbackMeetingItsDisposedOwner_NeitherCrashesNorStopsTheOtherWatches()
    {
        using var notifier = new LinuxFileChangeNotifier();
        var gone = new SemaphoreSlim(0);
        gone.Dispose();
        using var stale = notifier.Watch(_dir, () => gone.Release())!;
        using var changed = new SemaphoreSlim(0);
        using var live = notifier.Watch(_dir, () => changed.Release())!;

        File.WriteAllText(PathOf("a"), "x");
        Assert.True(changed.Wait(Soon), "the live watch was not called");
        File.WriteAllText(PathOf("b"), "y");
        Assert.True(changed.Wait(Soon), "the notifier stopped after the stale callback threw");
    }

    /// <summary>A FileWatch moving its watches disposes the old ones from its callback: those are not called for the same events.</summary>
    [Fact]
    public void AWatchDisposedByAnEarlierCallbackOfTheSameEvents_IsNotCalled()
    {
        using var notifier = new LinuxFileChangeNotifier();
        int laterCalls = 0;
        IDisposable? later = null;
        using var changed = new SemaphoreSlim(0);
        using var first = notifier.Watch(_dir, () =>
        {
            later?.Dispose();
            changed.Release();
        })!;
        later = notifier.Watch(_dir, () => Interlocked.Increment(ref laterCalls))!;

        File.WriteAllText(PathOf("a"), "x");
        Assert.True(changed.Wait(Soon), "the first watch was not called");
        Thread.Sleep(100);
        Assert.Equal(0, Volatile.Read(ref laterCalls));
    }

    [Fact]
    public void AFileWhoseDirectoryIsMissing_IsSeen_OnceTheDirectoryAndFileAreCreated()
    {
        string missing = PathOf("later/deeper/hosts");
        using var notifier = new LinuxFileChangeNotifier();
        using var changed = new SemaphoreSlim(0);
        using var watch = new FileWatch([missing], new StoppedClock(), () => changed.Release(), notifier);
        Assert.Equal([_dir], watch.WatchedDirectories); // the nearest existing ancestor

        Directory.CreateDirectory(Path.GetDirectoryName(missing)!);
        File.WriteAllText(missing, "192.0.2.9 nas.lan\n");
        Assert.True(changed.Wait(Soon), "the file created under new directories was not seen");
    }

    [Fact]
    public void AnIdleNotifier_SleepsWithoutWakingUp_AndAWatchDisposedIsNotCalledAgain()
    {
        using var notifier = new LinuxFileChangeNotifier();
        int calls = 0;
        var watch = notifier.Watch(_dir, () => Interlocked.Increment(ref calls))!;
        using var second = notifier.Watch(_dir, () => { }); // the same kernel watch, counted
        File.WriteAllText(PathOf("a"), "x");
        SpinWait.SpinUntil(() => Volatile.Read(ref calls) > 0, Soon);
        Assert.True(calls > 0);

        Thread.Sleep(200);
        long before = ThreadWakeups.Of(notifier.ThreadId);
        Thread.Sleep(1500);
        long wakeups = ThreadWakeups.Of(notifier.ThreadId) - before;
        Assert.True(wakeups <= 1, $"the idle notifier thread woke {wakeups} times in 1.5 s");

        watch.Dispose();
        int after = Volatile.Read(ref calls);
        File.WriteAllText(PathOf("b"), "y");
        Thread.Sleep(300);
        Assert.Equal(after, Volatile.Read(ref calls));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
