using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Sluice.Control;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;

namespace Sluice.Daemon;

/// <summary>
/// Clash's monitoring API (what yacd/metacubexd and scripts use): /, /version, /configs, /proxies,
/// /proxies/{name}[/delay] (PUT selects or pins, DELETE unpins), /rules, /connections (+ WebSocket push, DELETE), /traffic, /logs, /memory, /cache/fakeip/flush, /restart
/// (the DNS tools are ClashDnsEndpoints, rules ClashRuleEndpoints, groups ClashGroupEndpoints, proxy providers ClashProxyProviderEndpoints,
/// rule providers ClashRuleProviderEndpoints, /upgrade and unknown paths ClashUpgradeEndpoints).
/// Errors are Clash's <c>{"message": ...}</c> with an HTTP status.
/// </summary>
internal static class ClashEndpoints
{
    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor, LogBroadcast logs)
    {
        app.MapGet("/", () => Results.Json(new ClashHello("clash"), ApiJsonContext.Default.ClashHello));
        app.MapGet("/version", () => Results.Json(new ClashVersion("sluice " + supervisor.Version, Premium: true, Meta: true), ApiJsonContext.Default.ClashVersion));

        app.MapGet("/configs", () => Results.Json(new ClashConfigs(0, 0, 0, 0,
            MixedPort: supervisor.Config?.MixedInbounds.FirstOrDefault()?.ListenPort ?? 0,
            AllowLan: false, BindAddress: "*", Mode: supervisor.Mode, ModeList: supervisor.Modes, LogLevel: supervisor.Config?.Log.Level ?? "info",
            Ipv6: true, Tun: new ClashTunConfig(supervisor.Engine?.TunName is not null, supervisor.Engine?.TunName)), ApiJsonContext.Default.ClashConfigs));
        app.MapMethods("/configs", ["PATCH"], async (HttpContext context) =>
        {
            using var doc = await ReadObjectAsync(context);
            if (doc is null) return Message(StatusCodes.Status400BadRequest, "send a JSON object, e.g. {\"mode\": \"rule\"}");
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name != "mode")
                    return Message(StatusCodes.Status400BadRequest, $"only \"mode\" can be changed here, not \"{property.Name}\"; edit the config and `sluice reload`");
                string? refused = property.Value.ValueKind == JsonValueKind.String ? supervisor.SetMode(property.Value.GetString()!) : "\"mode\" must be a string";
                if (refused is not null) return Message(StatusCodes.Status400BadRequest, refused);
            }
            return Results.NoContent();
        });
        // The dashboards' "flush fake-ip cache": every fake address forgotten, handed out afresh from the range's start.
        app.MapPost("/cache/fakeip/flush", () =>
        {
            if (supervisor.Engine?.DnsServer is not { } dns) return Message(StatusCodes.Status409Conflict, "the engine is not running: no fake-ip cache to flush");
            dns.FlushFakeIps();
            return Results.NoContent();
        });
        // The dashboards' "restart core": the running config read again and applied, as `sluice reload` does
        // (the daemon itself is not re-executed: the API, the gate and the dashboards stay up).
        app.MapPost("/restart", async () =>
        {
            var answer = await supervisor.ReloadAsync();
            return answer.Ok ? Results.Json(new ClashStatus("ok"), ApiJsonContext.Default.ClashStatus) : ReloadFailed(answer);
        });
        // The dashboards' "reload config" sends {"path": "", "payload": ""}: the running config read again, as /restart.
        // A path or a payload is refused: a config sent over the API names no file, and a new one goes through /api/core.
        app.MapMethods("/configs", ["PUT"], async (HttpContext context) =>
        {
            using var doc = context.Request.ContentLength is 0 or null ? null : await ReadObjectAsync(context);
            if (doc is null && context.Request.ContentLength > 0) return Message(StatusCodes.Status400BadRequest, "send {\"path\": \"\", \"payload\": \"\"} or nothing");
            foreach (string field in new[] { "path", "payload" })
                if (doc is not null && doc.RootElement.TryGetProperty(field, out var v) && !(v.ValueKind == JsonValueKind.String && v.GetString() is ""))
                    return Message(StatusCodes.Status400BadRequest, $"the daemon does not load configs by {field} from this API; use POST /api/core {{\"action\": \"up\"}}");
            var answer = await supervisor.ReloadAsync();
            return answer.Ok ? Results.NoContent() : ReloadFailed(answer);
        });

        app.MapGet("/proxies", () => Results.Json(new ClashProxies(Proxies(supervisor)), ApiJsonContext.Default.ClashProxies));
        app.MapGet("/proxies/{name}", (string name) => Proxies(supervisor).TryGetValue(name, out var proxy)
            ? Results.Json(proxy, ApiJsonContext.Default.ClashProxy)
            : Message(StatusCodes.Status404NotFound, $"no proxy \"{name}\""));
        app.MapPut("/proxies/{name}", async (string name, HttpContext context) =>
        {
            if (Outbound(supervisor, name) is not { } outbound) return Message(StatusCodes.Status404NotFound, $"no proxy \"{name}\"");
            using var doc = await ReadObjectAsync(context);
            string? member = doc is not null && doc.RootElement.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            if (member is null) return Message(StatusCodes.Status400BadRequest, "send {\"name\": \"member\"}");
            if (EngineViews.Group(outbound) is not { } group) return Message(StatusCodes.Status400BadRequest, $"\"{name}\" is not a group");
            // A selector switches; urltest/fallback are pinned to the member while it is healthy (mihomo's "fixed").
            bool done = group.Type == "selector" ? EngineViews.Select(outbound, member) : EngineViews.Pin(outbound, member);
            return done ? Results.NoContent() : Message(StatusCodes.Status400BadRequest, $"\"{name}\" has no member \"{member}\"");
        });
        // The dashboards' "unfix": urltest/fallback pick by their probes again. A selector has nothing pinned (400, as mihomo).
        app.MapDelete("/proxies/{name}", (string name) =>
        {
            if (Outbound(supervisor, name) is not { } outbound) return Message(StatusCodes.Status404NotFound, $"no proxy \"{name}\"");
            return EngineViews.Pin(outbound, null) ? Results.NoContent()
                : Message(StatusCodes.Status400BadRequest, $"\"{name}\" is not a urltest or fallback group: nothing is pinned in it");
        });
        app.MapGet("/proxies/{name}/delay", (string name, string? url, int? timeout, string? expected, HttpContext context) => Outbound(supervisor, name) is { } outbound
            ? DelayAnswerAsync(outbound, url, timeout, expected, context.RequestAborted)
            : Task.FromResult(Message(StatusCodes.Status404NotFound, $"no proxy \"{name}\"")));

        app.MapGet("/connections", async (HttpContext context, int? interval) =>
        {
            if (!context.WebSockets.IsWebSocketRequest) return Results.Json(Connections(supervisor), ApiJsonContext.Default.ClashConnections);
            await Streams.Push(context, ct => Every(TimeSpan.FromMilliseconds(Math.Clamp(interval ?? 1000, 100, 60_000)), () => Connections(supervisor), ct));
            return Results.Empty;
        });
        app.MapDelete("/connections", () =>
        {
            supervisor.Engine?.Connections.CloseAll();
            return Results.NoContent();
        });
        app.MapDelete("/connections/{id}", (string id) =>
            long.TryParse(id, out long n) && supervisor.Engine?.Connections.Close(n) == true
                ? Results.NoContent()
                : Message(StatusCodes.Status404NotFound, $"no live connection {id}"));

        app.MapGet("/traffic", (HttpContext context) => Streams.Push(context, ct => Traffic(supervisor, ct)));
        app.MapGet("/memory", (HttpContext context) => Streams.Push(context, ct => Every(TimeSpan.FromSeconds(1), () => new ClashMemory(Environment.WorkingSet, 0), ct)));
        app.MapGet("/logs", (HttpContext context, string? level, int? tail, bool? follow, string? format) =>
        {
            if (LogBroadcast.ParseLevel(level) is not { } minimum)
                return Task.FromResult(Message(StatusCodes.Status400BadRequest, $"level \"{level}\": one of debug, info, warning, error, silent"));
            var lines = Lines(logs, minimum, Math.Clamp(tail ?? 0, 0, 500), follow ?? true);
            // mihomo's format=structured: {time, level, message, fields} instead of {type, payload}.
            return format == "structured" ? PushAll(context, ct => Structured(lines(ct), ct)) : PushAll(context, lines);
        });
    }

    private static async Task<IResult> PushAll<T>(HttpContext context, Func<CancellationToken, IAsyncEnumerable<T>> values)
    {
        await Streams.Push(context, values);
        return Results.Empty;
    }

    /// <summary>The last <paramref name="tail"/> lines at <paramref name="minimum"/> or above, then (with <paramref name="follow"/>) each new one.</summary>
    private static Func<CancellationToken, IAsyncEnumerable<ClashLog>> Lines(LogBroadcast logs, LogLevel minimum, int tail, bool follow)
    {
        return Read;

        async IAsyncEnumerable<ClashLog> Read([EnumeratorCancellation] CancellationToken ct)
        {
            var live = follow ? logs.Subscribe(ct) : null;
            foreach (var (level, line) in logs.Recent(tail))
                if (level >= minimum) yield return line;
            if (live is null) yield break;
            await foreach (var (level, line) in live.ReadAllAsync(ct))
                if (level >= minimum) yield return line;
        }
    }

    private static async IAsyncEnumerable<ClashStructuredLog> Structured(IAsyncEnumerable<ClashLog> lines, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var line in lines.WithCancellation(ct)) yield return ClashStructuredLog.Of(line);
    }

    private static async IAsyncEnumerable<T> Every<T>(TimeSpan interval, Func<T> read, [EnumeratorCancellation] CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            yield return read();
            try
            {
                await Task.Delay(interval, ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }

    private static async IAsyncEnumerable<ClashTraffic> Traffic(EngineSupervisor supervisor, [EnumeratorCancellation] CancellationToken ct)
    {
        (long Up, long Down) last = supervisor.Engine?.Connections.Totals() ?? (0, 0);
        object? engine = supervisor.Engine;
        var clock = Stopwatch.StartNew();
        yield return new ClashTraffic(0, 0, last.Up, last.Down);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            var now = supervisor.Engine?.Connections.Totals() ?? (0, 0);
            // A new engine starts its counters at zero.
            if (!ReferenceEquals(engine, supervisor.Engine)) last = (0, 0);
            engine = supervisor.Engine;
            double seconds = Math.Max(0.001, clock.Elapsed.TotalSeconds);
            clock.Restart();
            yield return new ClashTraffic((long)(Math.Max(0, now.Item1 - last.Up) / seconds), (long)(Math.Max(0, now.Item2 - last.Down) / seconds), now.Item1, now.Item2);
            last = now;
        }
    }

    public static ClashConnections Connections(EngineSupervisor supervisor)
    {
        var engine = supervisor.Engine;
        if (engine is null) return new ClashConnections(0, 0, [], Environment.WorkingSet);
        var totals = engine.Connections.Totals();
        var list = engine.Connections.Snapshot().Select(c => (c, p: c.ResolveProcess())).Select(x => (x.c, x.p) switch { var (c, p) => new ClashConnection(
            c.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            new ClashMetadata(c.Network, c.Inbound, c.Key.Source.ToString(), c.Key.Destination.ToString(),
                c.Key.SourcePort.ToString(System.Globalization.CultureInfo.InvariantCulture), c.Key.DestinationPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                c.Domain ?? "", p?.Name ?? "", p?.Path ?? "", p?.Uid),
            c.Upload, c.Download, c.Start, c.Chain.Count > 0 ? c.Chain : [c.Lane], c.Rule, "") }).ToArray();
        return new ClashConnections(totals.Download, totals.Upload, list, Environment.WorkingSet);
    }

    public static Dictionary<string, ClashProxy> Proxies(EngineSupervisor supervisor)
    {
        var result = new Dictionary<string, ClashProxy>(StringComparer.Ordinal);
        var engine = supervisor.Engine;
        if (engine is null) return result;
        foreach (var outbound in EngineViews.WithMembers(engine.Outbounds).Values)
        {
            var group = EngineViews.Group(outbound);
            result[outbound.Tag] = new ClashProxy
            {
                Name = outbound.Tag,
                Type = ClashType(group?.Type ?? outbound.Type),
                Udp = outbound.CarriesUdp,
                Now = group?.Now ?? (group is null ? null : group.Members.FirstOrDefault()?.Tag),
                All = group?.Members.Select(m => m.Tag).ToArray(),
                History = DelayHistory.Of(outbound.Tag, group),
                Fixed = group is { Type: "urltest" or "fallback" } ? group.Pinned ?? "" : null,
            };
        }
        string final = supervisor.Config?.DefaultOutbound ?? "";
        result["GLOBAL"] = new ClashProxy { Name = "GLOBAL", Type = "Selector", Now = final, All = engine.Outbounds.Keys.ToArray() };
        return result;
    }

    /// <summary>Clash's delay test of one outbound: {"delay": ms}, 504 on timeout, 503 with the reason when it failed.</summary>
    internal static async Task<IResult> DelayAnswerAsync(IOutbound outbound, string? url, int? timeout, string? expected, CancellationToken cancellationToken)
    {
        if (DelayProbe.Target(url) is not { } target) return Message(StatusCodes.Status400BadRequest, "url must be an absolute http:// or https:// URL");
        if (!StatusRanges.TryParse(expected, out var statuses)) return BadExpected(expected);
        var result = await DelayProbe.MeasureAsync(outbound, target, DelayProbe.Limit(timeout), cancellationToken, statuses);
        if (result.Delay is { } delay)
        {
            DelayHistory.Record(outbound.Tag, delay);
            return Results.Json(new ClashDelay(delay), ApiJsonContext.Default.ClashDelay);
        }
        return Message(result.TimedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status503ServiceUnavailable, result.Error ?? "failed");
    }

    internal static IResult BadExpected(string? expected) =>
        Message(StatusCodes.Status400BadRequest, $"expected \"{expected}\": HTTP statuses or ranges separated by /, e.g. 204 or 200-299/302");

    /// <summary>An outbound of the running engine by tag, a subscription's servers included; null when none.</summary>
    internal static IOutbound? Outbound(EngineSupervisor supervisor, string name) =>
        supervisor.Engine is { } engine && EngineViews.WithMembers(engine.Outbounds).TryGetValue(name, out var outbound) ? outbound : null;

    private static string ClashType(string type) => type switch
    {
        "direct" => "Direct",
        "block" => "Reject",
        "wireguard" => "WireGuard",
        "shadowsocks" => "Shadowsocks",
        "socks" => "Socks5",
        "http" => "Http",
        "trojan" => "Trojan",
        "vless" => "Vless",
        "selector" => "Selector",
        "urltest" => "URLTest",
        "fallback" => "Fallback",
        "vmess" => "Vmess",
        "hysteria2" => "Hysteria2",
        "tuic" => "Tuic",
        _ => type,
    };

    /// <summary>A {"message"} answer with a status: the one error shape of every Clash endpoint.</summary>
    internal static IResult Message(int status, string message) => Results.Json(new ClashMessage(message), ApiJsonContext.Default.ClashMessage, statusCode: status);

    /// <summary>A reload that did not happen: 409 with no engine, else 500, with the reason.</summary>
    private static IResult ReloadFailed(Envelope answer) =>
        Message(answer.Code == Sluice.Control.ApiCodes.NotRunning ? StatusCodes.Status409Conflict : StatusCodes.Status500InternalServerError, answer.Message);

    /// <summary>The request body as a JSON object; null when it is not JSON or not an object (the caller answers 400, never 500).</summary>
    internal static async Task<JsonDocument?> ReadObjectAsync(HttpContext context)
    {
        try
        {
            var doc = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            if (doc.RootElement.ValueKind == JsonValueKind.Object) return doc;
            doc.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>The last delays measured through /proxies/{name}/delay, plus a group's own probe results.</summary>
internal static class DelayHistory
{
    private static readonly Dictionary<string, List<ClashDelayPoint>> History = new(StringComparer.Ordinal);

    public static void Record(string name, int delay)
    {
        lock (History)
        {
            if (!History.TryGetValue(name, out var list)) History[name] = list = [];
            list.Add(new ClashDelayPoint(DateTimeOffset.UtcNow, delay));
            if (list.Count > 10) list.RemoveAt(0);
        }
    }

    public static IReadOnlyList<ClashDelayPoint> Of(string name, GroupView? group)
    {
        lock (History)
        {
            if (History.TryGetValue(name, out var list)) return list.ToArray();
        }
        return [];
    }
}
