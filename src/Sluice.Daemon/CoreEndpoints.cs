using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Control;

namespace Sluice.Daemon;

/// <summary>
/// Sluice's own routes: <c>POST /api/core</c> (up, down, status, version, reload; always the envelope),
/// <c>GET /api/events</c> (state changes, one JSON line each, the current state first), <c>GET /api/apps</c>
/// (per-app speeds with the three sparkline tiers).
/// </summary>
internal static class CoreEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor)
    {
        app.MapPost("/api/core", async (HttpContext context) =>
        {
            var envelope = await HandleAsync(context, supervisor);
            return Results.Json(envelope, ApiJsonContext.Default.Envelope);
        });

        app.MapGet("/api/events", async (HttpContext context) =>
        {
            var channel = Channel.CreateBounded<StateEvent>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest });
            void OnChange(StateEvent e) => channel.Writer.TryWrite(e);
            supervisor.StateChanged += OnChange;
            try
            {
                await Streams.StartNdjson(context);
                await Streams.WriteLine(context, new StateEvent(supervisor.State, supervisor.Since, supervisor.Error, "current"));
                await foreach (var change in channel.Reader.ReadAllAsync(context.RequestAborted))
                    await Streams.WriteLine(context, change);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                supervisor.StateChanged -= OnChange;
            }
        });

        app.MapGet("/api/apps", () => Results.Json(Apps(supervisor), ApiJsonContext.Default.AppsData));

        app.MapGet("/api/device/udid", () =>
        {
            try
            {
                return Results.Json(Envelopes.Ok(new DeviceData(DeviceId.Read())), ApiJsonContext.Default.Envelope);
            }
            catch (InvalidOperationException e)
            {
                return Results.Json(Envelopes.Fail(ApiCodes.EngineFailed, e.Message), ApiJsonContext.Default.Envelope);
            }
        });
    }

    public static AppsData Apps(EngineSupervisor supervisor)
    {
        var now = DateTimeOffset.UtcNow;
        if (supervisor.Meter is not { } meter)
            return new AppsData([], new AppTraffic("total", null, [], 0, 0, 0, 0, 0, []));
        var (apps, total) = meter.Read();
        return new AppsData(apps.Select(a => Convert(a, now)).ToArray(), Convert(total, now));
    }

    private static AppTraffic Convert(Sluice.Core.Monitoring.AppTrafficMeter.App app, DateTimeOffset now) => new(
        app.Name, app.Path, app.Lanes.Order(StringComparer.Ordinal).ToArray(), app.Connections, app.UploadRate, app.DownloadRate, app.Upload, app.Download,
        app.History.Snapshot(now).Select(t => new SpeedTier(t.Name, (int)t.Interval.TotalSeconds, t.Capacity, t.Down, t.Up)).ToArray());

    private static async Task<Envelope> HandleAsync(HttpContext context, EngineSupervisor supervisor)
    {
        CoreRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, ApiJsonContext.Default.CoreRequest, context.RequestAborted);
        }
        catch (JsonException e)
        {
            return Envelopes.Fail(ApiCodes.BadRequest, $"the body is not JSON ({e.Message}); send {{\"action\": \"status\"}}");
        }
        if (request is null || string.IsNullOrEmpty(request.Action))
            return Envelopes.Fail(ApiCodes.BadRequest, "missing \"action\": one of up, down, status, version, reload");
        var p = request.Params is { ValueKind: JsonValueKind.Object } o ? o : (JsonElement?)null;
        switch (request.Action)
        {
            case "status":
                return Envelopes.Ok(supervisor.Status());
            case "version":
                return Envelopes.Ok(new VersionData(supervisor.Version, $".NET {Environment.Version}", RuntimeInformation.OSDescription.Trim(),
                    RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()));
            case "down":
                return await supervisor.DownAsync();
            case "reload":
                return await supervisor.ReloadAsync();
            case "mode":
                // {"action": "mode"} reads it; {"action": "mode", "params": {"mode": "global"}} switches it.
                if (p is { } mp && mp.TryGetProperty("mode", out var m))
                {
                    if (m.ValueKind != JsonValueKind.String) return Envelopes.Fail(ApiCodes.BadRequest, "params.mode must be a string: rule, global, direct or a mode the rules name");
                    if (supervisor.SetMode(m.GetString()!) is { } refused) return Envelopes.Fail(ApiCodes.BadRequest, refused);
                }
                return Envelopes.Ok(new ModeData(supervisor.Mode, supervisor.Modes));
            case "servers":
                // The picker's list: selector group members with protocol, UDP capability and a fresh TCP latency.
                return await supervisor.ServerChoicesAsync(context.RequestAborted);
            case "pick":
                if (p is not { } pp || !pp.TryGetProperty("server", out var member) || member.ValueKind != JsonValueKind.String)
                    return Envelopes.Fail(ApiCodes.BadRequest, "params.server must name a member of a selector group (params.group optional)");
                return supervisor.Pick(pp.TryGetProperty("group", out var pg) && pg.ValueKind == JsonValueKind.String ? pg.GetString() : null, member.GetString()!);
            case "up":
                string? json = null, path = null, server = null;
                int? pid = null;
                if (p is { } ps)
                {
                    if (ps.TryGetProperty("config", out var config))
                    {
                        if (config.ValueKind != JsonValueKind.Object) return Envelopes.Fail(ApiCodes.BadRequest, "params.config must be the config as a JSON object");
                        json = config.GetRawText();
                    }
                    if (ps.TryGetProperty("config_path", out var cp))
                    {
                        if (cp.ValueKind != JsonValueKind.String || !Path.IsPathRooted(cp.GetString()))
                            return Envelopes.Fail(ApiCodes.BadRequest, "params.config_path must be an absolute path (the daemon does not share your working directory)");
                        path = cp.GetString();
                    }
                    if (ps.TryGetProperty("server", out var s) && s.ValueKind == JsonValueKind.String) server = s.GetString();
                    if (ps.TryGetProperty("pid", out var pe))
                    {
                        if (pe.ValueKind != JsonValueKind.Number || !pe.TryGetInt32(out int n) || n <= 0)
                            return Envelopes.Fail(ApiCodes.BadRequest, "params.pid must be the positive process id of the app the engine lives for");
                        pid = n;
                    }
                }
                return await supervisor.UpAsync(json, json is null ? path : path, server, pid, PeerCredentials.Of(context));
            default:
                return Envelopes.Fail(ApiCodes.BadRequest, $"unknown action \"{request.Action}\": one of up, down, status, version, reload, mode, servers, pick");
        }
    }
}

/// <summary>NDJSON streaming: headers flushed at once, one compact JSON object per line, flushed per line.</summary>
internal static class Streams
{
    public static async Task StartNdjson(HttpContext context)
    {
        context.Response.ContentType = "application/x-ndjson";
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        await context.Response.StartAsync(context.RequestAborted);
    }

    public static async Task WriteLine<T>(HttpContext context, T value)
    {
        await context.Response.WriteAsync(ApiJson.Line(value) + "\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>Sends each value as a WebSocket text message, or as NDJSON lines, until the client leaves.</summary>
    public static async Task Push<T>(HttpContext context, Func<CancellationToken, IAsyncEnumerable<T>> values)
    {
        var aborted = context.RequestAborted;
        try
        {
            if (context.WebSockets.IsWebSocketRequest)
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync();
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                // Reading notices the client's close; nothing it sends is used.
                _ = Task.Run(async () =>
                {
                    var buffer = new byte[256];
                    try
                    {
                        while (socket.State == System.Net.WebSockets.WebSocketState.Open)
                        {
                            var r = await socket.ReceiveAsync(buffer, linked.Token);
                            if (r.MessageType == System.Net.WebSockets.WebSocketMessageType.Close) break;
                        }
                    }
                    catch (Exception)
                    {
                    }
                    await linked.CancelAsync();
                });
                await foreach (var value in values(linked.Token))
                {
                    var bytes = JsonSerializer.SerializeToUtf8Bytes(value, ApiJson.TypeInfo<T>());
                    await socket.SendAsync(bytes, System.Net.WebSockets.WebSocketMessageType.Text, true, linked.Token);
                }
                return;
            }
            await StartNdjson(context);
            await foreach (var value in values(aborted)) await WriteLine(context, value);
        }
        catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException)
        {
        }
    }
}
