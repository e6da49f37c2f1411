using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Keeps one group's members equal to what one subscription lists:
/// 1. at start, the cached last good body (if any) fills the group, so flows have servers at once;
/// 2. then fetch now, and again every interval — or early, when the group reports that every member
///    failed (at most once per <see cref="MinEarlyGap"/>, so a dead provider is not hammered);
/// 3. a fetched body is parsed by the importers (share links, base64, Clash YAML), each server is
///    validated as a config outbound, and the group's members are replaced live (an unchanged server
///    keeps its outbound, its health and its connections);
/// 4. only then is the body written to the cache (atomically). A failed fetch or a body with no usable
///    server changes nothing and says why in the log.
/// </summary>
internal sealed partial class SubscriptionWatcher : IDisposable
{
    public static readonly TimeSpan MinEarlyGap = TimeSpan.FromSeconds(5);

    private readonly SubscriptionOptions _options;
    private readonly OutboundGroup _group;
    private readonly Func<CancellationToken, Task<string>> _fetch;
    private readonly Func<OutboundOptions, IOutbound> _create;
    private readonly SubscriptionCache _cache;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _fetching = new(1, 1);
    private readonly Dictionary<string, (OutboundOptions Options, IOutbound Outbound)> _current = new(StringComparer.Ordinal);
    private TaskCompletionSource _early = NewSignal();
    private string? _appliedBody;
    private long _lastFetch;
    private Task? _loop;

    public SubscriptionWatcher(SubscriptionOptions options, OutboundGroup group, Func<CancellationToken, Task<string>> fetch,
        Func<OutboundOptions, IOutbound> create, ILogger logger, TimeProvider? time = null)
    {
        _options = options;
        _group = group;
        _fetch = fetch;
        _create = create;
        _cache = new SubscriptionCache(options.CachePath);
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public string Tag => _options.Tag;

    /// <summary>The servers the group has from this subscription now, in the body's order (a snapshot: the API reads it off the loop).</summary>
    public IReadOnlyList<string> Servers { get; private set; } = [];

    /// <summary>When the list in use was last read from the provider (or written to the cache it came from); null: never.</summary>
    public DateTimeOffset? UpdatedAt { get; private set; }

    /// <summary>Why the last fetch changed nothing (fetch failed, body rejected); null after a good one.</summary>
    public string? LastError { get; private set; }

    public SubscriptionOptions Options => _options;

    /// <summary>Its place among the subscriptions feeding the same group (their order in the config): its servers come after those of the earlier ones.</summary>
    public int Feed { get; init; }

    /// <summary>What the provider last said of the account (its subscription-userinfo header); null when unknown.</summary>
    public Func<SubscriptionUsage?> Usage { get; init; } = () => null;

    /// <summary>Fills the group from the cache (synchronously) and starts the fetch loop.</summary>
    public void Start()
    {
        var cached = _cache.TryRead(out string? error);
        if (error is not null) LogCacheUnreadable(_logger, Tag, _cache.Path, error);
        if (cached is { } c)
        {
            if (TryApply(c.Body, $"cache {_cache.Path} (written {c.WrittenUtc:u})", writeCache: false))
                UpdatedAt = new DateTimeOffset(c.WrittenUtc, TimeSpan.Zero);
            else
                LogCacheUnusable(_logger, Tag, _cache.Path);
        }
        _group.AllMembersFailed += OnAllMembersFailed;
        _loop = Task.Run(RunAsync);
    }

    private void OnAllMembersFailed(OutboundGroup group) => _early.TrySetResult();

    private async Task RunAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await FetchOnceAsync().ConfigureAwait(false);
                var early = _early.Task;
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
                {
                    var due = Task.Delay(_options.Interval, _time, wait.Token);
                    if (await Task.WhenAny(due, early).ConfigureAwait(false) == due)
                    {
                        await due.ConfigureAwait(false); // throws when stopped
                        continue;
                    }
                    wait.Cancel(); // the scheduled fetch is replaced by the early one
                }
                var since = _time.GetElapsedTime(_lastFetch);
                if (since < MinEarlyGap) await Task.Delay(MinEarlyGap - since, _time, _stop.Token).ConfigureAwait(false);
                LogEarly(_logger, Tag, _options.Group);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            // A bug must not kill the engine; the group keeps what it has.
            LogLoopFailed(_logger, Tag, e.ToString());
        }
    }

    /// <summary>A fetch now, on request (a dashboard's "update provider"); null when it changed or confirmed the list, else why not.</summary>
    public async Task<string?> RefreshAsync() => await FetchOnceAsync(requested: true).ConfigureAwait(false) ? null : LastError;

    /// <summary>How a requested update fetches when the scheduled fetch may answer from a shared one (<see cref="SharedFetch"/>); default the same.</summary>
    public Func<CancellationToken, Task<string>>? FetchNow { get; init; }

    /// <summary>One fetch; true when it changed or confirmed the list. One at a time: the loop's and a requested one do not interleave.</summary>
    internal async Task<bool> FetchOnceAsync(bool requested = false)
    {
        await _fetching.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            _early = NewSignal(); // failures reported from here on ask for the next early fetch
            _lastFetch = _time.GetTimestamp();
            string body;
            try
            {
                body = await (requested && FetchNow is { } now ? now : _fetch)(_stop.Token).ConfigureAwait(false);
            }
            catch (SubscriptionFetchException e)
            {
                LastError = $"fetch of {Monitoring.RedactedText.Of(_options.Url)} failed: {Monitoring.RedactedText.Of(e.Message)}";
                LogFetchFailed(_logger, Tag, Monitoring.RedactedText.Of(_options.Url), Monitoring.RedactedText.Of(e.Message), _current.Count);
                return false;
            }
            if (body == _appliedBody)
            {
                LogUnchanged(_logger, Tag, _current.Count);
                Fetched();
                return true;
            }
            bool applied = TryApply(body, Monitoring.RedactedText.Of(_options.Url), writeCache: true);
            if (applied) Fetched();
            return applied;
        }
        finally
        {
            _fetching.Release();
        }
    }

    private void Fetched()
    {
        UpdatedAt = _time.GetUtcNow();
        LastError = null;
    }

    private bool TryApply(string body, string source, bool writeCache)
    {
        SubscriptionBody.Result parsed;
        try
        {
            parsed = SubscriptionBody.ParseAny(body, source);
        }
        catch (ImportException e)
        {
            LastError = $"body rejected: {e.Message}";
            LogRejected(_logger, Tag, e.Message, _current.Count);
            return false;
        }
        var options = new List<OutboundOptions>();
        foreach (var note in parsed.Notes) LogNote(_logger, Tag, note);
        // The override first: the filter sees the tags the group will show (a group picking one provider's servers by its prefix).
        var passing = _options.Filter.Apply(_options.Override.Apply(parsed.Outbounds));
        if (passing.Count < parsed.Outbounds.Count) LogFiltered(_logger, Tag, parsed.Outbounds.Count - passing.Count, parsed.Outbounds.Count);
        foreach (var server in passing)
        {
            if (ToOptions(server, out string? error) is { } o) options.Add(o);
            else LogNote(_logger, Tag, $"{server["tag"]}: skipped: {error}");
        }
        // A filter that keeps none of a good list is the user's choice (mihomo's group is then empty of them too); a list
        // whose every server is unusable is a broken body, and the last good list stays.
        if (options.Count == 0 && passing.Count > 0)
        {
            LastError = $"body rejected: {source}: no usable server in it";
            LogRejected(_logger, Tag, $"{source}: no usable server in it", _current.Count);
            return false;
        }

        var next = new Dictionary<string, (OutboundOptions Options, IOutbound Outbound)>(StringComparer.Ordinal);
        foreach (var o in options)
        {
            next[o.Tag] = _current.TryGetValue(o.Tag, out var same) && same.Options.Equals(o) ? same : (o, _create(o));
        }
        _group.SetFeed(Feed, options.Select(o => next[o.Tag].Outbound).ToArray());
        foreach (var (tag, old) in _current)
            if (!next.TryGetValue(tag, out var kept) || !ReferenceEquals(kept.Outbound, old.Outbound)) old.Outbound.Dispose();
        _current.Clear();
        foreach (var pair in next) _current[pair.Key] = pair.Value;
        Servers = options.Select(o => o.Tag).ToArray();
        _appliedBody = body;
        LogApplied(_logger, Tag, options.Count, source, _options.Group, string.Join(", ", options.Select(o => o.Tag)));

        if (writeCache)
        {
            try
            {
                _cache.Write(body);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogCacheWriteFailed(_logger, Tag, _cache.Path, e.Message);
            }
        }
        return true;
    }

    /// <summary>One server object validated exactly as a config outbound would be.</summary>
    private static OutboundOptions? ToOptions(JsonObject server, out string? error)
    {
        if (SubscriptionBody.IsEndpoint(server))
        {
            // An endpoint is an L3 lane the engine sets up at start; a group's members come and go with each fetch.
            error = "a WireGuard server cannot be a member of a group fed by a subscription; import it with `sluice import` into the config's endpoints";
            return null;
        }
        var outbounds = new JsonArray(server.DeepClone());
        // A detour (the override's, checked with the config) names an outbound of the engine: a stand-in of that tag lets
        // the server be checked alone.
        if ((string?)server["detour"] is { Length: > 0 } detour && detour != (string?)server["tag"])
            outbounds.Add((JsonNode)new JsonObject { ["type"] = "direct", ["tag"] = detour });
        var document = new JsonObject { ["outbounds"] = outbounds };
        try
        {
            error = null;
            return ConfigLoader.Load(document.ToJsonString()).Outbounds[0];
        }
        catch (ConfigException e)
        {
            error = string.Join("; ", e.Errors);
            return null;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Dispose()
    {
        _group.AllMembersFailed -= OnAllMembersFailed;
        _stop.Cancel();
        try
        {
            _loop?.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
        foreach (var (_, entry) in _current) entry.Outbound.Dispose();
        _current.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "subscription {Tag}: {Count} servers from {Source} now feed group {Group}: {Servers}")]
    private static partial void LogApplied(ILogger logger, string tag, int count, string source, string group, string servers);

    [LoggerMessage(Level = LogLevel.Information, Message = "subscription {Tag}: {Count} of its {Total} servers left out by its filter")]
    private static partial void LogFiltered(ILogger logger, string tag, int count, int total);

    [LoggerMessage(Level = LogLevel.Information, Message = "subscription {Tag}: fetched, unchanged ({Count} servers)")]
    private static partial void LogUnchanged(ILogger logger, string tag, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "subscription {Tag}: fetch of {Url} failed: {Reason}; keeping the last good list ({Count} servers)")]
    private static partial void LogFetchFailed(ILogger logger, string tag, string url, string reason, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "subscription {Tag}: body rejected: {Reason}; keeping the last good list ({Count} servers)")]
    private static partial void LogRejected(ILogger logger, string tag, string reason, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "subscription {Tag}: {Note}")]
    private static partial void LogNote(ILogger logger, string tag, string note);

    [LoggerMessage(Level = LogLevel.Information, Message = "subscription {Tag}: every member of group {Group} failed; fetching early")]
    private static partial void LogEarly(ILogger logger, string tag, string group);

    [LoggerMessage(Level = LogLevel.Warning, Message = "subscription {Tag}: cannot read cache {Path}: {Reason}")]
    private static partial void LogCacheUnreadable(ILogger logger, string tag, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "subscription {Tag}: cache {Path} holds no usable list; waiting for the first fetch")]
    private static partial void LogCacheUnusable(ILogger logger, string tag, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "subscription {Tag}: cannot write cache {Path}: {Reason}; the list is in use but will not survive a restart")]
    private static partial void LogCacheWriteFailed(ILogger logger, string tag, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "subscription {Tag}: watcher stopped by a bug: {Error}")]
    private static partial void LogLoopFailed(ILogger logger, string tag, string error);
}
