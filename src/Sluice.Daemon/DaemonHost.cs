using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Daemon.ExternalUi;

namespace Sluice.Daemon;

/// <summary>
/// `sluice daemon`: the service that owns the engine.
/// 1. Read the daemon's config (-c), if any: its experimental.clash_api pins the HTTP address and secret.
/// 2. Load (or generate) the secret; listen on the Unix socket (0660) and on HTTP.
/// 3. Start the netlink monitor, then bring up what was up before the daemon last stopped or died.
/// 4. Serve until cancelled (SIGTERM); stop the engine, keep "up" remembered for the next start.
/// </summary>
public sealed partial class DaemonHost
{
    private readonly DaemonOptions _options;
    private readonly DaemonPlatform _platform;
    private readonly ILoggerFactory _logs;
    private readonly LogBroadcast _broadcast;

    public DaemonHost(DaemonOptions options, DaemonPlatform platform, ILoggerFactory logs, LogBroadcast broadcast)
    {
        _options = options;
        _platform = platform;
        _logs = logs;
        _broadcast = broadcast;
    }

    /// <summary>The HTTP endpoint actually listened on (after start), for tests.</summary>
    public IPEndPoint? HttpEndpoint { get; private set; }

    public async Task RunAsync(Action? started, CancellationToken stop)
    {
        var logger = _logs.CreateLogger("daemon");
        ClashApiOptions? clash = null;
        if (_options.ConfigPath is { } configPath)
        {
            // A broken daemon config is fatal at start (the service cannot know its own address or secret).
            clash = ConfigLoader.LoadFile(configPath, ConfigOrigin.Local with { Files = _platform.Files(null) }).Experimental.ClashApi;
        }
        var secret = clash?.Secret is { } pinned ? ApiSecret.FromValue(pinned) : ApiSecret.LoadOrCreate(_options.SecretFile);
        string? listen = clash?.ExternalController ?? _options.Listen;
        IPEndPoint? http = null;
        if (listen is not null)
        {
            if (!ClashApiOptions.TryParseController(listen, out http))
                throw new InvalidOperationException($"listen address \"{listen}\" is not host:port (\"127.0.0.1:1777\")");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingProvider(_logs));
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        string socketDir = Path.GetDirectoryName(Path.GetFullPath(_options.SocketPath))!;
        Directory.CreateDirectory(socketDir);
        if (File.Exists(_options.SocketPath)) File.Delete(_options.SocketPath); // left by a killed daemon
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenUnixSocket(_options.SocketPath);
            if (http is not null) kestrel.Listen(http);
            kestrel.AddServerHeader = false;
        });
        builder.Services.AddRoutingCore();
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, Sluice.Control.ApiJsonContext.Default));

        using var supervisor = new EngineSupervisor(_platform, new StateStore(_options.StateDir), _logs, TimeProvider.System, _options.ConfigPath)
        {
            Version = _options.Version,
        };
        await using var app = builder.Build();
        var dashboard = clash?.Dashboard ?? ClashDashboardOptions.None;
        if (dashboard.AllowsAnyOrigin) LogAnyOrigin(logger);
        using var externalUi = dashboard.ExternalUi is null && dashboard.DownloadUrl is null ? null : new ExternalUiSource(dashboard, _options.StateDir, _logs.CreateLogger("dashboard"));
        if (externalUi is not null) supervisor.StateChanged += change => DownloadDashboard(externalUi, supervisor, change, stop);
        var guard = new HttpGuard(secret, http is null ? [] : HttpGuard.HostsFor(http), new CrossOriginPolicy(dashboard), HttpGuard.AnyAddressPort(http));
        // WebSockets first: the guard reads a WebSocket upgrade's ?token= only when it sees the upgrade.
        app.UseWebSockets();
        app.Use((context, next) => guard.InvokeAsync(context, _ => next()));
        app.Use(ClashUpgradeEndpoints.AnswerUnknownPaths);
        app.UseRouting();
        CoreEndpoints.Map(app, supervisor);
        ClashEndpoints.Map(app, supervisor, _broadcast);
        app.MapGet("/metrics", () => Results.Text(Metrics.Render(supervisor), "text/plain; version=0.0.4"));
        Dashboard.Map(app, atUi: externalUi is null);
        if (externalUi is not null) ExternalUiEndpoints.Map(app, externalUi);
        ClashGroupEndpoints.Map(app, supervisor);
        ClashProxyProviderEndpoints.Map(app, supervisor);
        ClashRuleProviderEndpoints.Map(app, supervisor);
        ClashRuleEndpoints.Map(app, supervisor);
        ClashDnsEndpoints.Map(app, supervisor);
        ClashUpgradeEndpoints.Map(app, supervisor, externalUi, stop);

        await app.StartAsync(stop);
        // 0660: the owner (root) and the group (e.g. "sluice") may drive the engine; nobody else.
        File.SetUnixFileMode(_options.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        SocketGroup.Apply(_options.SocketPath);
        HttpEndpoint = http;
        LogListening(logger, _options.SocketPath, http?.ToString() ?? "off");

        var monitor = _platform.NetworkMonitor(() => supervisor.TunInterface);
        if (monitor is not null)
        {
            supervisor.AttachMonitor(monitor);
            monitor.Start();
        }
        try
        {
            await supervisor.ResumeAsync();
            started?.Invoke();
            await Task.Delay(Timeout.Infinite, stop).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        finally
        {
            LogStopping(logger);
            monitor?.Dispose();
            supervisor.Dispose();
            await app.StopAsync(CancellationToken.None);
            try
            {
                File.Delete(_options.SocketPath);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A connected engine has the outbounds a dashboard download goes through.</summary>
    private static void DownloadDashboard(ExternalUiSource source, EngineSupervisor supervisor, Sluice.Control.StateEvent change, CancellationToken stop)
    {
        if (change.State != Sluice.Control.EngineStates.Connected || supervisor.Engine is not { } engine || supervisor.Config is not { } config) return;
        _ = Task.Run(() => source.EnsureDownloadedAsync(engine.Outbounds, config.DefaultOutbound, stop), stop);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "web pages of any origin may call the API with the secret (experimental.clash_api.access_control_allow_origin is empty or \"*\", as in sing-box); list the dashboards' origins there to allow only those")]
    private static partial void LogAnyOrigin(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "daemon listening on unix:{Socket} and http {Http}")]
    private static partial void LogListening(ILogger logger, string socket, string http);

    [LoggerMessage(Level = LogLevel.Information, Message = "daemon stopping")]
    private static partial void LogStopping(ILogger logger);

    /// <summary>ASP.NET's own logs go to the daemon's loggers.</summary>
    private sealed class ForwardingProvider(ILoggerFactory logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => logs.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }
}
