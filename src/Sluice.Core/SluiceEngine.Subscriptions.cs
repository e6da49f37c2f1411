using Sluice.Core.Monitoring;

namespace Sluice.Core;

/// <summary>The running subscriptions, for the API (the Clash proxy providers of the dashboards).</summary>
public sealed partial class SluiceEngine
{
    /// <summary>Each subscription with the servers it gives its group now; empty before the engine started.</summary>
    public IReadOnlyList<SubscriptionView> Subscriptions =>
        _subscriptions?.Watchers.Select(w => new SubscriptionView(w.Tag, w.Options.Group, w.Servers, w.UpdatedAt, w.LastError, w.Usage())).ToArray() ?? [];

    /// <summary>
    /// Fetches subscription <paramref name="tag"/> now and applies what it lists, as its own schedule does;
    /// null when the list changed or was confirmed, else why not (the list in use stays).
    /// </summary>
    /// <exception cref="KeyNotFoundException">The engine runs no subscription of that tag.</exception>
    public Task<string?> RefreshSubscriptionAsync(string tag) =>
        (_subscriptions?.Watchers.FirstOrDefault(w => w.Tag == tag) ?? throw new KeyNotFoundException($"no subscription \"{tag}\"")).RefreshAsync();
}
