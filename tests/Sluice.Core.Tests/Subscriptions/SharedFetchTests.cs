using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>Subscriptions to one provider list (one per group, as an import writes them) ask the provider once per round.</summary>
public sealed class SharedFetchTests
{
    private readonly FakeClock _clock = new();
    private int _fetches;
    private TaskCompletionSource<string> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Task<string> Fetch(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _fetches);
        return _answer.Task.WaitAsync(cancellationToken);
    }

    [Fact]
    public async Task SubscriptionsFetchingTogether_AskTheProviderOnce_AndAgainOnlyAfterTheWindow()
    {
        using var shared = new SharedFetch(Fetch, _clock);

        var first = shared.FetchAsync(CancellationToken.None);
        var second = shared.FetchAsync(CancellationToken.None); // while the first runs
        _answer.SetResult("body 1");
        Assert.Equal(("body 1", "body 1"), (await first, await second));
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("body 1", await shared.FetchAsync(CancellationToken.None)); // within the window: the same answer
        Assert.Equal(1, _fetches);

        _clock.Advance(SharedFetch.Window);
        _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _answer.SetResult("body 2");
        Assert.Equal("body 2", await shared.FetchAsync(CancellationToken.None));
        Assert.Equal(2, _fetches);
    }

    [Fact]
    public async Task ARequestedUpdate_AsksTheProviderAgain_WithinTheWindow_AndTheOthersShareIt()
    {
        using var shared = new SharedFetch(Fetch, _clock);
        _answer.SetResult("old");
        Assert.Equal("old", await shared.FetchAsync(CancellationToken.None));

        _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _answer.SetResult("new");
        Assert.Equal("new", await shared.FetchNowAsync(CancellationToken.None));
        Assert.Equal("new", await shared.FetchAsync(CancellationToken.None));
        Assert.Equal(2, _fetches);
    }

    [Fact]
    public async Task OneCallerGivingUp_DoesNotCancelTheFetchForTheOthers()
    {
        using var shared = new SharedFetch(Fetch, _clock);
        using var impatient = new CancellationTokenSource();

        var gaveUp = shared.FetchAsync(impatient.Token);
        var patient = shared.FetchAsync(CancellationToken.None);
        impatient.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gaveUp);
        _answer.SetResult("body");

        Assert.Equal("body", await patient);
        Assert.Equal(1, _fetches);
    }
}
