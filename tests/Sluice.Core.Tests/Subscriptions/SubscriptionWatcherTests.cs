using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>The watcher against a scripted fetch, a fake clock and a real cache folder.</summary>
public sealed partial class SubscriptionWatcherTests : IDisposable
{
    private const string TwoServers = "ss://aes-128-gcm:pw@192.0.2.1:8388#one\nss://aes-128-gcm:pw@192.0.2.2:8388#two\n";
    private const string OneChanged = "ss://aes-128-gcm:pw@192.0.2.1:8388#one\nss://aes-256-gcm:pw@192.0.2.3:8388#three\n";
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-sub-").FullName;
    private readonly FakeClock _clock = new();
    private readonly ConcurrentQueue<Func<string>> _answers = new();
    private readonly LogLines _log = new();
    private readonly List<IOutbound> _created = [];
    private int _fetches;

    private string CachePath => Path.Combine(_dir, "cache", "provider.txt");

    private SubscriptionOptions Options => new("provider", new Uri("https://sub.example/list"), Interval, "auto", CachePath, null, false, TimeSpan.FromSeconds(30));

    private (SubscriptionWatcher Watcher, OutboundGroup Group) Start(string type = "selector",
        Func<IOutbound, TimeSpan, CancellationToken, ValueTask<TimeSpan?>>? probe = null)
    {
        var options = new GroupOutboundOptions(type, "auto", [], null, TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(30), false);
        var group = new OutboundGroup(options, _ => null, NullLogger.Instance, _clock, probe);
        var watcher = new SubscriptionWatcher(Options, group, Fetch, o =>
        {
            var outbound = new StubOutbound(o.Tag);
            lock (_created) _created.Add(outbound);
            return outbound;
        }, _log, _clock);
        watcher.Start();
        return (watcher, group);
    }

    private Task<string> Fetch(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _fetches);
        if (!_answers.TryDequeue(out var answer)) throw new SubscriptionFetchException("connection refused (test: no answer scripted)");
        return Task.FromResult(answer());
    }

    private static string[] Members(OutboundGroup group) => group.Members.Select(m => m.Outbound.Tag).ToArray();

    private void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for {what}; log:\n{_log}");
            Thread.Sleep(5);
        }
    }

    /// <summary>Waits until fetch number <paramref name="n"/> finished and the loop is parked in its next delay.</summary>
    private void WaitForFetch(int n) => WaitFor(() => Volatile.Read(ref _fetches) == n && _clock.PendingTimers == 1, $"fetch {n}");

    [Fact]
    public async Task Refresh_FetchesNow_ShowsServersAndWhen_AndAFailureSaysWhyKeepingTheList()
    {
        _answers.Enqueue(() => TwoServers);
        var (watcher, group) = Start();
        using var _ = watcher;
        WaitForFetch(1);
        Assert.Equal(["one", "two"], watcher.Servers);
        Assert.Equal(_clock.GetUtcNow(), watcher.UpdatedAt);

        _clock.Advance(TimeSpan.FromMinutes(5)); // well within the hour: only the refresh fetches
        _answers.Enqueue(() => OneChanged);
        Assert.Null(await watcher.RefreshAsync());
        Assert.Equal(2, Volatile.Read(ref _fetches));
        Assert.Equal(["one", "three"], watcher.Servers);
        Assert.Equal(["one", "three"], Members(group));
        Assert.Equal(_clock.GetUtcNow(), watcher.UpdatedAt);

        var updated = watcher.UpdatedAt;
        _clock.Advance(TimeSpan.FromMinutes(5));
        string? failed = await watcher.RefreshAsync(); // nothing scripted: the fetch is refused
        Assert.Contains("connection refused", failed);
        Assert.Equal(failed, watcher.LastError);
        Assert.Equal(["one", "three"], watcher.Servers);
        Assert.Equal(updated, watcher.UpdatedAt);

        _answers.Enqueue(() => "<html>502</html>");
        Assert.Contains("body rejected", await watcher.RefreshAsync());
        _answers.Enqueue(() => OneChanged);
        Assert.Null(await watcher.RefreshAsync()); // unchanged, but confirmed now
        Assert.Null(watcher.LastError);
        Assert.Equal(_clock.GetUtcNow(), watcher.UpdatedAt);
    }

    [Fact]
    public void FetchedBody_BecomesTheGroupsMembers_AndIsCached()
    {
        _answers.Enqueue(() => TwoServers);
        var (watcher, group) = Start();
        using var _ = watcher;
        WaitForFetch(1);

        Assert.Equal(["one", "two"], Members(group));
        Assert.Equal(TwoServers, File.ReadAllText(CachePath));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(CachePath)!, "*.tmp"));
        Assert.Contains("subscription provider: 2 servers from https://sub.example/list now feed group auto: one, two", _log.ToString());
    }

    [Fact]
    public void ChangedBody_ReplacesMembersLive_AndKeepsUnchangedServersOutbound()
    {
        _answers.Enqueue(() => TwoServers);
        _answers.Enqueue(() => OneChanged);
        var (watcher, group) = Start();
        using var _ = watcher;
        WaitForFetch(1);
        var one = group.Members[0].Outbound;

        _clock.Advance(Interval);
        WaitForFetch(2);

        Assert.Equal(["one", "three"], Members(group));
        Assert.Same(one, group.Members[0].Outbound);
        Assert.True(((StubOutbound)_created.Single(o => o.Tag == "two")).Disposed);
        Assert.Equal(OneChanged, File.ReadAllText(CachePath));
    }

    [Theory]
    [InlineData("<html><body>502 Bad Gateway</body></html>", "neither share links")]
    [InlineData("proxies:\n  - {name: x, type: vmess, server: a.b, port: 1}\n", "no usable proxy")]
    [InlineData("ss://rc4-md5:pw@192.0.2.9:8388#old\n", "method \"rc4-md5\" is not supported")]
    public void GarbageBody_KeepsTheLastGoodList_AndCache_AndSaysWhy(string garbage, string why)
    {
        _answers.Enqueue(() => TwoServers);
        _answers.Enqueue(() => garbage);
        var (watcher, group) = Start();
        using var _ = watcher;
        WaitForFetch(1);

        _clock.Advance(Interval);
        WaitForFetch(2);

        Assert.Equal(["one", "two"], Members(group));
        Assert.Equal(TwoServers, File.ReadAllText(CachePath));
        Assert.Contains("subscription provider: body rejected:", _log.ToString());
        Assert.Contains(why, _log.ToString());
        Assert.Contains("keeping the last good list (2 servers)", _log.ToString());
    }

    [Fact]
    public void FailedFetch_KeepsTheLastGoodList_AndSaysWhy()
    {
        _answers.Enqueue(() => TwoServers);
        var (watcher, group) = Start();
        using var _ = watcher;
        WaitForFetch(1);

        _clock.Advance(Interval); // nothing scripted: the fetch fails
        WaitForFetch(2);

        Assert.Equal(["one", "two"], Members(group));
        Assert.Contains("subscription provider: fetch of https://sub.example/list failed: connection refused", _log.ToString());
    }

    [Fact]
    public void AtStart_CachedBodyFillsTheGroup_WhenTheUrlIsUnreachable()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(CachePath)!);
        File.WriteAllText(CachePath, TwoServers);
        var (watcher, group) = Start();
        using var _ = watcher;

        Assert.Equal(["one", "two"], Members(group)); // before any fetch
        WaitForFetch(1);
        Assert.Equal(["one", "two"], Members(group));
        Assert.Contains($"from cache {CachePath}", _log.ToString());
        Assert.Contains("fetch of https://sub.example/list failed", _log.ToString());
    }

    [Fact]
    public async Task EveryMemberFailing_FetchesEarly_NotWaitingForTheInterval()
    {
        var dead = new ConcurrentDictionary<string, bool>();
        _answers.Enqueue(() => TwoServers);
        _answers.Enqueue(() => OneChanged);
        var (watcher, group) = Start("urltest", (o, _, _) => dead.ContainsKey(o.Tag)
            ? throw new OutboundException($"{o.Tag}: connection refused")
            : ValueTask.FromResult<TimeSpan?>(TimeSpan.FromMilliseconds(10)));
        using var _ = watcher;
        WaitForFetch(1);

        dead["one"] = dead["two"] = true;
        await group.ProbeAllAsync(); // a probe round finds no healthy member
        // The early fetch waits out the minimum gap since the last fetch, on the same clock; the hourly one is gone.
        WaitFor(() => _clock.PendingTimers == 1 && _clock.NextDue <= SubscriptionWatcher.MinEarlyGap, "early fetch parked in its minimum gap");
        _clock.Advance(SubscriptionWatcher.MinEarlyGap);
        WaitForFetch(2);

        Assert.Equal(["one", "three"], Members(group));
        Assert.Contains("every member of group auto failed; fetching early", _log.ToString());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class StubOutbound(string tag) : IOutbound
    {
        public bool Disposed { get; private set; }
        public OutboundOptions? Options { get; init; }
        public string Tag => tag;
        public string Type => "stub";
        public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken) => ValueTask.FromResult<Stream>(new MemoryStream());
        public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) => throw new NotSupportedException();
        public void Dispose() => Disposed = true;
    }

    /// <summary>Collects formatted log lines.</summary>
    private sealed class LogLines : ILogger
    {
        private readonly ConcurrentQueue<string> _lines = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue(formatter(state, exception));
        public override string ToString() => string.Join('\n', _lines);
    }
}
