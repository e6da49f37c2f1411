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
        try
        {
            foreach (var options in subscriptions)
            {
                if (outbounds.GetValueOrDefault(options.Group) is not OutboundGroup group)
                    throw new InvalidOperationException($"subscription \"{options.Tag}\": group \"{options.Group}\" is not a group outbound");
                var fetcher = new SubscriptionFetcher(options, context.Sockets);
                set._owned.Add(fetcher);
                int feed = set.Watchers.Count(w => w.Options.Group == options.Group);
                var watcher = new SubscriptionWatcher(options, group, fetcher.FetchAsync, o => OutboundRegistry.Create(o, context),
                    logs.CreateLogger("subscription")) { Usage = () => fetcher.Usage, Feed = feed };
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
