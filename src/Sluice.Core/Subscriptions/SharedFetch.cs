namespace Sluice.Core.Subscriptions;

/// <summary>
/// One provider list fetched once for all the subscriptions that name it. mihomo fetches a provider once however many
/// groups use it; an imported profile gives each group its own subscription (with its own filter), and their schedules
/// run in step, so without this a provider used by ten region groups would be asked ten times each interval (providers
/// rate-limit, and each request shows activity). A fetch still running, or started less than <see cref="Window"/> ago,
/// answers every caller; one caller giving up does not cancel it for the others.
/// </summary>
internal sealed class SharedFetch(Func<CancellationToken, Task<string>> fetch, TimeProvider? time = null) : IDisposable
{
    /// <summary>How long a fetched answer (body or failure) serves the other subscriptions: 10 s, above the watchers' early-fetch gap.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _lock = new();
    private Task<string>? _last;
    private long _startedAt;

    public Task<string> FetchAsync(CancellationToken cancellationToken) => Fetch(requested: false, cancellationToken);

    /// <summary>A requested update (a dashboard's "update provider"): asks the provider now unless a fetch is running, never answering from the window.</summary>
    public Task<string> FetchNowAsync(CancellationToken cancellationToken) => Fetch(requested: true, cancellationToken);

    private Task<string> Fetch(bool requested, CancellationToken cancellationToken)
    {
        Task<string> shared;
        lock (_lock)
        {
            if (_last is not { } last || (last.IsCompleted && (requested || _time.GetElapsedTime(_startedAt) >= Window)))
            {
                _startedAt = _time.GetTimestamp();
                _last = fetch(_stop.Token);
            }
            shared = _last;
        }
        return shared.WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
