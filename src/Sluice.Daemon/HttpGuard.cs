using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Sluice.Daemon;

/// <summary>
/// The HTTP side's rules (the Unix socket's are its file mode, 0660):
/// 1. Host must name the listener (127.0.0.1:1777, localhost:1777): a web page that rebinds a DNS name to
///    127.0.0.1 sends its own name and is refused;
/// 2. an Origin other than the daemon's own (and any Sec-Fetch-Site: cross-site) is refused: web pages cannot
///    drive the API even with a guessed secret; no CORS header is ever sent;
/// 3. every route but the dashboard's page needs "Authorization: Bearer SECRET" (WebSocket upgrades may pass
///    ?token=SECRET, as browsers cannot set headers on them), compared in constant time.
/// </summary>
internal sealed class HttpGuard(ApiSecret secret, IReadOnlyCollection<string> allowedHosts)
{
    private readonly HashSet<string> _hosts = new(allowedHosts, StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _origins = new(allowedHosts.Select(h => "http://" + h), StringComparer.OrdinalIgnoreCase);

    /// <summary>The hosts a listener on <paramref name="endpoint"/> answers to.</summary>
    public static IReadOnlyCollection<string> HostsFor(IPEndPoint endpoint)
    {
        var hosts = new List<string> { endpoint.ToString() };
        if (IPAddress.IsLoopback(endpoint.Address))
        {
            hosts.Add($"localhost:{endpoint.Port}");
            hosts.Add($"127.0.0.1:{endpoint.Port}");
            hosts.Add($"[::1]:{endpoint.Port}");
        }
        return hosts.Distinct().ToArray();
    }

    /// <summary>Kestrel's TCP transport always sets the local IP address; its Unix socket transport never does.</summary>
    public static bool IsUnixSocket(HttpContext context) =>
        context.Features.Get<IConnectionEndPointFeature>()?.LocalEndPoint is UnixDomainSocketEndPoint
        || (context.Connection.LocalIpAddress is null && context.Connection.LocalPort == 0);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var response = context.Response;
        response.Headers["X-Content-Type-Options"] = "nosniff";
        response.Headers["Cache-Control"] = "no-store";
        if (IsUnixSocket(context))
        {
            await next(context);
            return;
        }
        var request = context.Request;
        if (!_hosts.Contains(request.Host.Value ?? ""))
        {
            await Refuse(context, StatusCodes.Status403Forbidden, $"Host \"{request.Host.Value}\" is not this daemon ({string.Join(", ", _hosts)})");
            return;
        }
        string? origin = request.Headers.Origin;
        if ((origin is not null && !_origins.Contains(origin)) || request.Headers["Sec-Fetch-Site"] == "cross-site")
        {
            await Refuse(context, StatusCodes.Status403Forbidden, $"requests from web pages of other origins ({origin ?? "cross-site"}) are refused");
            return;
        }
        string path = request.Path.Value ?? "";
        if (path is "/ui" or "/ui/" or "/favicon.ico")
        {
            await next(context);
            return;
        }
        string? presented = null;
        string? authorization = request.Headers.Authorization;
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) presented = authorization[7..].Trim();
        else if (context.WebSockets.IsWebSocketRequest) presented = request.Query["token"];
        if (!secret.Matches(presented))
        {
            response.Headers.WWWAuthenticate = "Bearer";
            await Refuse(context, StatusCodes.Status401Unauthorized, presented is null
                ? "missing secret: send \"Authorization: Bearer <secret>\" (the secret is in the daemon's secret file, /etc/sluice/secret by default)"
                : "wrong secret");
            return;
        }
        await next(context);
    }

    private static Task Refuse(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new Sluice.Control.ClashMessage(message), Sluice.Control.ApiJsonContext.Default.ClashMessage);
    }
}
