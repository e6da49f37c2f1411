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
///    drive the API even with a guessed secret; the only exceptions are the origins clash_api's
///    access_control_allow_origin names (<see cref="CrossOriginPolicy"/>), which get CORS answers;
/// 3. every route but the dashboards' pages (/ui, /ui/…, /dashboard) and CORS preflights needs "Authorization: Bearer SECRET" (WebSocket upgrades may pass
///    ?token=SECRET, as browsers cannot set headers on them), compared in constant time.
/// </summary>
internal sealed class HttpGuard(ApiSecret secret, IReadOnlyCollection<string> allowedHosts, CrossOriginPolicy? cors = null)
{
    private readonly CrossOriginPolicy _cors = cors ?? CrossOriginPolicy.None;
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
        bool foreign = origin is not null && !_origins.Contains(origin);
        if (foreign && _cors.Allows(origin!))
        {
            if (_cors.Apply(context, origin!)) return;
        }
        else if (foreign || request.Headers["Sec-Fetch-Site"] == "cross-site")
        {
            await Refuse(context, StatusCodes.Status403Forbidden, $"requests from web pages of other origins ({origin ?? "cross-site"}) are refused"
                + " (allow one with experimental.clash_api.access_control_allow_origin in the daemon's config)");
            return;
        }
        string path = request.Path.Value ?? "";
        if ((HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && (path is "/ui" or "/dashboard" or "/favicon.ico" || path.StartsWith("/ui/", StringComparison.Ordinal)))
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
