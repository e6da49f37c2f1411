using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Outbounds;

namespace Sluice.Core.RuleSets;

/// <summary>
/// Every route.rule_set entry of a config, by tag. The handles exist from the start (rules compile
/// against them); <see cref="Load"/> fills them:
/// 1. inline sets compile at once; local files are read, then watched (a change is read again, a
///    file that no longer parses keeps the old set and says why);
/// 2. a remote set is taken from its cache file (state dir, by tag) when there is one, and fetched
///    through its detour when there is none — a failure then stops the start with the set's tag and
///    the reason; with a cache the start does not wait for the network;
/// 3. remote sets are fetched again every update_interval (at once when the cache is older); a body
///    that parses replaces the set and the cache file (atomically), anything else keeps both.
/// </summary>
public sealed partial class RuleSetLibrary : IDisposable
{
    /// <summary>How long a first download (no cache) may take before the start fails.</summary>
    public static readonly TimeSpan FirstFetchTimeout = TimeSpan.FromSeconds(30);

    /// <summary>After a failed refresh the next try comes this soon (or at the interval, if shorter).</summary>
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromMinutes(5);

    private readonly Dictionary<string, RuleSetHandle> _handles;
    private readonly IReadOnlyList<RuleSetOptions> _options;
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<string, Func<CancellationToken, Task>> _refresh = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();

    private RuleSetLibrary(IReadOnlyList<RuleSetOptions> options, Dictionary<string, RuleSetHandle> handles)
    {
        _options = options;
        _handles = handles;
    }

    public IReadOnlyDictionary<string, RuleSetHandle> Handles => _handles;

    /// <summary>The config's sets, in its order.</summary>
    public IReadOnlyList<RuleSetOptions> Sets => _options;

    /// <summary>
    /// Brings a set up to date now (the Clash API's provider "update"): a remote set is downloaded, a local file read
    /// again; an inline set has nothing to do. False for a tag the config lacks.
    /// </summary>
    /// <exception cref="RuleSetLoadException">The download or the file failed; the set in use stays, the message says why.</exception>
    public async Task<bool> RefreshAsync(string tag, CancellationToken cancel)
    {
        if (!_handles.ContainsKey(tag)) return false;
        if (_refresh.TryGetValue(tag, out var refresh)) await refresh(cancel).ConfigureAwait(false);
        return true;
    }

    /// <summary>Empty handles for the config's sets, each compiled only in the forms its references need.</summary>
    public static RuleSetLibrary For(SluiceConfig config)
    {
        var usage = RuleSetReferences.Scan(config);
        var handles = config.Route.RuleSets.ToDictionary(s => s.Tag, s => new RuleSetHandle(s.Tag, usage.GetValueOrDefault(s.Tag)), StringComparer.Ordinal);
        return new RuleSetLibrary(config.Route.RuleSets, handles);
    }

    /// <summary>The file a remote set's last good body is kept in: the tag made safe for a file name, plus a hash of it.</summary>
    public static string CachePath(string directory, RemoteRuleSetOptions set)
    {
        var safe = new StringBuilder();
        foreach (char c in set.Tag.Take(48)) safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_');
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(set.Tag)))[..8];
        return Path.Combine(directory, $"{safe}-{hash}{set.Format switch { RuleSetFormat.Binary => ".srs", RuleSetFormat.Source => ".json", RuleSetFormat.Mrs => ".mrs", _ => ".clash" }}");
    }

    /// <param name="outbound">An outbound by tag (a remote set's download_detour).</param>
    /// <param name="defaultOutbound">The tag of route.final's outbound, for sets without a detour.</param>
    /// <param name="cacheDirectory">Where remote bodies are cached.</param>
    /// <exception cref="RuleSetLoadException">A set cannot be loaded; the message names it and says why.</exception>
    public void Load(Func<string, IOutbound> outbound, string defaultOutbound, IServerNameResolver? names, string cacheDirectory, ILogger logger, TimeProvider time,
        Dns.IFileChangeNotifier? fileChanges = null)
    {
        foreach (var options in _options)
        {
            var handle = _handles[options.Tag];
            switch (options)
            {
                case InlineRuleSetOptions inline:
                    Publish(handle, inline.Content, "inline", time);
                    break;
                case LocalRuleSetOptions local:
                    Publish(handle, ReadLocal(local), local.Path, time);
                    _owned.Add(new FileWatch([local.Path], time, () => ReloadLocal(local, handle, logger, time), fileChanges));
                    _refresh[local.Tag] = _ =>
                    {
                        var content = ReadLocal(local);
                        Publish(handle, content, local.Path, time);
                        LogReadOnRequest(logger, local.Tag, local.Path, content.Summary());
                        return Task.CompletedTask;
                    };
                    break;
                case RemoteRuleSetOptions remote:
                    var fetcher = new RemoteRuleSetFetcher(() => outbound(remote.DownloadDetour ?? defaultOutbound), names, FirstFetchTimeout);
                    _owned.Add(fetcher);
                    var watcher = new RemoteRuleSetWatcher(remote, handle, fetcher, CachePath(cacheDirectory, remote), logger, time, _stop.Token);
                    watcher.Start();
                    _refresh[remote.Tag] = watcher.RefreshNowAsync;
                    break;
            }
            LogLoaded(logger, options.Tag, handle.Content?.Summary() ?? "empty");
        }
    }

    private static RuleSetContent ReadLocal(LocalRuleSetOptions local)
    {
        try
        {
            return RuleSetBody.ReadFile(local.Path, local.Format, local.Files);
        }
        catch (RuleSetFormatException e)
        {
            throw new RuleSetLoadException($"rule set \"{local.Tag}\": {e.Message}");
        }
    }

    private static void ReloadLocal(LocalRuleSetOptions local, RuleSetHandle handle, ILogger logger, TimeProvider time)
    {
        try
        {
            var content = RuleSetBody.ReadFile(local.Path, local.Format, local.Files);
            handle.Publish(content, time.GetUtcNow());
            LogReloaded(logger, local.Tag, local.Path, content.Summary());
        }
        catch (RuleSetFormatException e)
        {
            LogReloadFailed(logger, local.Tag, e.Message);
        }
    }

    private static void Publish(RuleSetHandle handle, RuleSetContent content, string origin, TimeProvider time)
    {
        try
        {
            handle.Publish(content, time.GetUtcNow());
        }
        catch (RuleSetFormatException e)
        {
            throw new RuleSetLoadException($"rule set \"{handle.Tag}\" ({origin}): {e.Message}");
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var owned in _owned) owned.Dispose();
        _owned.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "rule set {Tag}: {Summary}")]
    private static partial void LogLoaded(ILogger logger, string tag, string summary);

    [LoggerMessage(Level = LogLevel.Information, Message = "rule set {Tag}: {Path} changed, now {Summary}")]
    private static partial void LogReloaded(ILogger logger, string tag, string path, string summary);

    [LoggerMessage(Level = LogLevel.Information, Message = "rule set {Tag}: {Path} read again on request, now {Summary}")]
    private static partial void LogReadOnRequest(ILogger logger, string tag, string path, string summary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "rule set {Tag}: the changed file is not used, the previous set stays: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string tag, string reason);
}

/// <summary>A rule set that cannot be loaded at start; the message names the set and the reason.</summary>
public sealed class RuleSetLoadException(string message) : Exception(message);
