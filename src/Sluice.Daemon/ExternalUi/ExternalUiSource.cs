using System.Net;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Daemon.ExternalUi;

/// <summary>
/// Where /ui/ takes its files from, in order:
/// 1. external_ui, when that directory holds files;
/// 2. the dashboard downloaded from external_ui_download_url, cached in STATE_DIR/external-ui (kept across
///    restarts; delete the folder to fetch again);
/// 3. nothing yet: the download runs once the engine is up (it goes through an outbound of the running
///    engine: external_ui_download_detour, else route.final), and /ui/ answers 503 with the reason until then.
/// A download is written to a temporary folder and renamed into place only when it unpacked completely.
/// </summary>
internal sealed partial class ExternalUiSource : IDisposable
{
    /// <summary>Dashboards are a few MiB; a body past this is not one.</summary>
    public const long MaxDownloadBytes = 64L * 1024 * 1024;

    private readonly ClashDashboardOptions _options;
    private readonly string _cache;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _downloading = new(1, 1);
    private DashboardDirectory? _open;

    public ExternalUiSource(ClashDashboardOptions options, string stateDir, ILogger logger)
    {
        _options = options;
        _cache = Path.Combine(Path.GetFullPath(stateDir), "external-ui");
        _logger = logger;
    }

    /// <summary>Why /ui/ has nothing to serve yet (null once it has).</summary>
    public string? Pending { get; private set; }

    /// <summary>The directory to serve now, or null (see <see cref="Pending"/>).</summary>
    public DashboardDirectory? Directory
    {
        get
        {
            string? path = _options.ExternalUi is { } ui && DashboardDirectory.HasFiles(ui) ? ui
                : DashboardDirectory.HasFiles(_cache) ? _cache : null;
            if (path is null)
            {
                Pending ??= _options.DownloadUrl is null
                    ? $"the external_ui directory {_options.ExternalUi} is missing or empty"
                    : $"the dashboard has not been downloaded yet from {_options.DownloadUrl} (it is fetched once the engine is up)";
                return null;
            }
            lock (_downloading)
            {
                if (_open?.Path != Path.GetFullPath(path))
                {
                    _open?.Dispose();
                    _open = DashboardDirectory.Open(path);
                }
                Pending = null;
                return _open;
            }
        }
    }

    /// <summary>
    /// Fetches and unpacks the dashboard when it is configured and not there yet (<paramref name="again"/>: even
    /// when it is, the dashboards' "upgrade UI"; the copy in use stays until the new one unpacked). Never throws;
    /// null when the dashboard is there, else why not.
    /// </summary>
    public async Task<string?> EnsureDownloadedAsync(IReadOnlyDictionary<string, IOutbound> outbounds, string finalOutbound, CancellationToken cancellationToken,
        bool again = false)
    {
        if (_options.DownloadUrl is not { } url) return again ? "the daemon's config names no experimental.clash_api.external_ui_download_url to download the dashboard from" : Pending;
        if (!again && Directory is not null) return null;
        if (!await _downloading.WaitAsync(again ? Timeout.Infinite : 0, cancellationToken).ConfigureAwait(false)) return Pending;
        try
        {
            if (!again && Directory is not null) return null;
            string detour = _options.DownloadDetour ?? finalOutbound;
            if (!outbounds.TryGetValue(detour, out var outbound))
            {
                Pending = $"external_ui_download_detour \"{detour}\" is not an outbound of the running engine";
                LogDownloadFailed(_logger, url, Pending);
                return Pending;
            }
            LogDownloading(_logger, url, detour);
            string temp = _cache + ".tmp-" + Guid.NewGuid().ToString("N");
            try
            {
                using var body = await FetchAsync(new Uri(url), outbound, cancellationToken).ConfigureAwait(false);
                DashboardArchive.Extract(body, temp);
                lock (_downloading)
                {
                    // The open copy holds the old folder's files; the next request opens the new one.
                    _open?.Dispose();
                    _open = null;
                    if (System.IO.Directory.Exists(_cache)) System.IO.Directory.Delete(_cache, recursive: true);
                    System.IO.Directory.Move(temp, _cache);
                }
                Pending = null;
                LogDownloaded(_logger, url, _cache);
                return null;
            }
            catch (Exception e) when (e is HttpRequestException or InvalidDataException or IOException or OutboundException or OperationCanceledException or UnauthorizedAccessException)
            {
                string failed = $"downloading the dashboard from {url} through \"{detour}\" failed: {Innermost(e)}";
                // A failed upgrade keeps the copy in use: /ui/ still serves it.
                if (Directory is null) Pending = failed;
                LogDownloadFailed(_logger, url, failed);
                return failed;
            }
            finally
            {
                if (System.IO.Directory.Exists(temp)) System.IO.Directory.Delete(temp, recursive: true);
            }
        }
        finally
        {
            _downloading.Release();
        }
    }

    private static async Task<Stream> FetchAsync(Uri url, IOutbound outbound, CancellationToken cancellationToken)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 5,
            AutomaticDecompression = DecompressionMethods.All,
            // Every connection is a stream of the detour outbound (never the TUN, never a bare socket).
            ConnectCallback = async (context, ct) => await outbound.DialTcpAsync(await DestinationOf(context.DnsEndPoint, ct).ConfigureAwait(false), ct).ConfigureAwait(false),
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60), MaxResponseContentBufferSize = MaxDownloadBytes };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("sluice-dashboard/1");
        using var response = await http.GetAsync(url, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        if (response.Content.Headers.ContentLength > MaxDownloadBytes) throw new InvalidDataException($"the body is {response.Content.Headers.ContentLength} bytes; at most {MaxDownloadBytes >> 20} MiB");
        var copy = new MemoryStream();
        await response.Content.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
        if (copy.Length > MaxDownloadBytes) throw new InvalidDataException($"the body is over {MaxDownloadBytes >> 20} MiB");
        copy.Position = 0;
        return copy;
    }

    /// <summary>An IP literal as is; a name resolved by the system and kept as the domain (a proxy receives it).</summary>
    private static async Task<Destination> DestinationOf(DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        ushort port = (ushort)endpoint.Port;
        if (IPAddress.TryParse(endpoint.Host.Trim('[', ']'), out var literal)) return new Destination(NetAddress.FromIPAddress(literal), port);
        var addresses = await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0) throw new HttpRequestException($"{endpoint.Host} has no address");
        return new Destination(NetAddress.FromIPAddress(addresses[0]), port, endpoint.Host);
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e.Message;
    }

    public void Dispose()
    {
        _open?.Dispose();
        _downloading.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "downloading the dashboard from {Url} through {Detour}")]
    private static partial void LogDownloading(ILogger logger, string url, string detour);

    [LoggerMessage(Level = LogLevel.Information, Message = "dashboard from {Url} unpacked into {Path}; served at /ui/")]
    private static partial void LogDownloaded(ILogger logger, string url, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "dashboard {Url}: {Reason}")]
    private static partial void LogDownloadFailed(ILogger logger, string url, string reason);
}
