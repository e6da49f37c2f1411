using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;

namespace Sluice.Core.RuleSets;

/// <summary>
/// Keeps one remote rule set current (see <see cref="RuleSetLibrary"/>): cache first, a blocking first
/// download only without a cache, then a refresh every update_interval. Every body is parsed and
/// compiled before it replaces anything; the cache file is only ever a body that did.
/// </summary>
internal sealed partial class RemoteRuleSetWatcher(
    RemoteRuleSetOptions options,
    RuleSetHandle handle,
    RemoteRuleSetFetcher fetcher,
    string cachePath,
    ILogger logger,
    TimeProvider time,
    CancellationToken stopping)
{
    private readonly SemaphoreSlim _oneFetch = new(1, 1);
    private DateTimeOffset _lastGood;

    /// <summary>Downloads the set now (a dashboard's "update"); one download at a time, the timer's included.</summary>
    /// <exception cref="RuleSetLoadException">The download or its body failed; the set in use stays.</exception>
    public async Task RefreshNowAsync(CancellationToken cancel)
    {
        try
        {
            await FetchAsync(cancel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RuleSetFetchException or RuleSetFormatException or Outbounds.OutboundException or IOException or UnauthorizedAccessException)
        {
            LogRefreshFailed(logger, options.Tag, options.Url.ToString(), e.Message, _lastGood);
            throw new RuleSetLoadException($"rule set \"{options.Tag}\": the download from {options.Url} failed, the set from {_lastGood:u} stays: {e.Message}");
        }
    }

    /// <exception cref="RuleSetLoadException">No usable cache and the first download failed.</exception>
    public void Start()
    {
        TimeSpan firstWait = TimeSpan.Zero;
        if (TryCache() is { } written)
        {
            _lastGood = written;
            var age = time.GetUtcNow() - written;
            firstWait = age < options.UpdateInterval ? options.UpdateInterval - age : TimeSpan.Zero;
        }
        else
        {
            try
            {
                FetchAsync(CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is RuleSetFetchException or RuleSetFormatException or Outbounds.OutboundException or IOException)
            {
                throw new RuleSetLoadException($"rule set \"{options.Tag}\": the first download from {options.Url} failed and there is no cached copy ({cachePath}): {e.Message}");
            }
            firstWait = options.UpdateInterval;
        }
        _ = Task.Run(() => RunAsync(firstWait));
    }

    private DateTimeOffset? TryCache()
    {
        if (!File.Exists(cachePath)) return null;
        try
        {
            var content = RuleSetBody.ReadFile(cachePath, options.Format);
            handle.Publish(content, time.GetUtcNow());
            var written = new DateTimeOffset(File.GetLastWriteTimeUtc(cachePath), TimeSpan.Zero);
            LogFromCache(logger, options.Tag, cachePath, written);
            return written;
        }
        catch (RuleSetFormatException e)
        {
            LogCacheUnusable(logger, options.Tag, e.Message);
            return null;
        }
    }

    private async Task RunAsync(TimeSpan wait)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(wait, time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                await FetchAsync(CancellationToken.None).ConfigureAwait(false);
                wait = options.UpdateInterval;
            }
            catch (Exception e) when (e is RuleSetFetchException or RuleSetFormatException or Outbounds.OutboundException or IOException or UnauthorizedAccessException)
            {
                LogRefreshFailed(logger, options.Tag, options.Url.ToString(), e.Message, _lastGood);
                wait = options.UpdateInterval < RuleSetLibrary.RetryAfterFailure ? options.UpdateInterval : RuleSetLibrary.RetryAfterFailure;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task FetchAsync(CancellationToken cancel)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(stopping, cancel);
        await _oneFetch.WaitAsync(both.Token).ConfigureAwait(false);
        try
        {
            await FetchOnceAsync(both.Token).ConfigureAwait(false);
        }
        finally
        {
            _oneFetch.Release();
        }
    }

    private async Task FetchOnceAsync(CancellationToken cancel)
    {
        byte[] body = await fetcher.FetchAsync(options.Url, cancel).ConfigureAwait(false);
        RuleSetContent content;
        try
        {
            content = RuleSetBody.Parse(body, options.Format);
            handle.Publish(content, time.GetUtcNow());
        }
        catch (RuleSetFormatException e)
        {
            throw new RuleSetFormatException($"the downloaded body is not a usable {RuleSetBody.Name(options.Format)} rule set: {e.Message}");
        }
        _lastGood = time.GetUtcNow();
        try
        {
            AtomicFile.Write(cachePath, body);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCacheWriteFailed(logger, options.Tag, cachePath, e.Message);
        }
        LogFetched(logger, options.Tag, options.Url.ToString(), content.Summary());
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "rule set {Tag}: using the cached copy {Path} (written {Written:u})")]
    private static partial void LogFromCache(ILogger logger, string tag, string path, DateTimeOffset written);

    [LoggerMessage(Level = LogLevel.Warning, Message = "rule set {Tag}: the cached copy is not usable, downloading: {Reason}")]
    private static partial void LogCacheUnusable(ILogger logger, string tag, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "rule set {Tag}: downloaded {Url}: {Summary}")]
    private static partial void LogFetched(ILogger logger, string tag, string url, string summary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "rule set {Tag}: refresh from {Url} failed, keeping the set from {Since:u}: {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string tag, string url, string reason, DateTimeOffset since);

    [LoggerMessage(Level = LogLevel.Warning, Message = "rule set {Tag}: cannot write the cache {Path}: {Reason}")]
    private static partial void LogCacheWriteFailed(ILogger logger, string tag, string path, string reason);
}
