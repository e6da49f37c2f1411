using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;

namespace Sluice.Core.Subscriptions;

/// <summary>The engine's subscriptions: one watcher and one HTTPS fetcher each, started and stopped together.</summary>
internal sealed class SubscriptionWatchers : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public List<SubscriptionWatcher> Watchers { get; } = [];

    /// <param name="outbounds">The engine's outbounds by tag; each subscription's group is one of them (validated by the config).</param>
    /// <param name="context">How the servers in a body become outbounds: the engine's marked sockets and logs.</param>
    public static SubscriptionWatchers Start(IReadOnlyList<SubscriptionOptions> subscriptions, IReadOnlyDictionary<string, IOutbound> outbounds,
        OutboundContext context, ILoggerFactory logs)
    {
        var set = new SubscriptionWatchers();
        // Subscriptions to the same list (one per group using a provider, as an import writes them) share one fetch; other
        // headers are another request (a provider answers another User-Agent with another format).
        var fetches = new Dictionary<(Uri, string?, bool, TimeSpan, string), (SubscriptionFetcher Fetcher, SharedFetch Shared)>();
        try
        {
            foreach (var options in subscriptions)
            {
                if (outbounds.GetValueOrDefault(options.Group) is not OutboundGroup group)
                    throw new InvalidOperationException($"subscription \"{options.Tag}\": group \"{options.Group}\" is not a group outbound");
                var key = (options.Url, options.CaFile, options.Insecure, options.Timeout, string.Join('\n', options.Headers.Select(h => $"{h.Key}: {h.Value}")));
                if (!fetches.TryGetValue(key, out var fetch))
                {
                    var fetcher = new SubscriptionFetcher(options, context.Sockets);
                    set._owned.Add(fetcher);
                    fetches[key] = fetch = (fetcher, new SharedFetch(fetcher.FetchAsync));
                    set._owned.Add(fetch.Shared);
                }
                int feed = set.Watchers.Count(w => w.Options.Group == options.Group);
                var watcher = new SubscriptionWatcher(options, group, fetch.Shared.FetchAsync, o => OutboundRegistry.Create(o, context),
                    logs.CreateLogger("subscription")) { Usage = () => fetch.Fetcher.Usage, Feed = feed, FetchNow = fetch.Shared.FetchNowAsync };
                set.Watchers.Add(watcher);
                watcher.Start();
            }
        }
        catch
        {
            set.Dispose();
            throw;
        }
        return set;
    }

    public void Dispose()
    {
        foreach (var watcher in Watchers) watcher.Dispose();
        Watchers.Clear();
        foreach (var owned in _owned) owned.Dispose();
        _owned.Clear();
    }
}
