using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Sluice.Daemon;

/// <summary>
/// The HTTP side's rules (the Unix socket's are its file mode, 0660):
/// 1. Host must name the listener (127.0.0.1:1777, localhost:1777): a web page that rebinds a DNS name to
///    127.0.0.1 sends its own name and is refused. A listener on every address (0.0.0.0:9090, [::]:9090) answers
///    to any IP literal with its port as well (a dashboard on the LAN calls http://192.168.1.5:9090): rebinding
///    needs a DNS name, and the machine's addresses are not known in advance;
/// 2. an Origin other than the daemon's own (http:// and a Host it answers to, or the Host of the request itself)
///    (and any Sec-Fetch-Site: cross-site) is refused: web pages cannot
///    drive the API even with a guessed secret; the only exceptions are the origins clash_api's
///    access_control_allow_origin names (<see cref="CrossOriginPolicy"/>), which get CORS answers;
/// 3. every route but the dashboards' pages (/ui, /ui/…, /dashboard) and CORS preflights needs "Authorization: Bearer SECRET" (WebSocket upgrades may pass
///    ?token=SECRET, as browsers cannot set headers on them), compared in constant time.
/// </summary>
/// <param name="anyAddressPort">The port of a listener on every address (see 1.); null for one on a single address.</param>
internal sealed class HttpGuard(ApiSecret secret, IReadOnlyCollection<string> allowedHosts, CrossOriginPolicy? cors = null, int? anyAddressPort = null)
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

    /// <summary>The port when <paramref name="endpoint"/> is every address (0.0.0.0 or ::), else null.</summary>
    public static int? AnyAddressPort(IPEndPoint? endpoint) =>
        endpoint is not null && (endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any)) ? endpoint.Port : null;

    /// <summary>An IP literal (dotted IPv4 or bracketed IPv6, never a name) with the listener's port.</summary>
    private bool IsAddressOfAnyAddressListener(HostString host) =>
        anyAddressPort is int port && host.Port == port && host.Host is { Length: > 0 } h
        && (h.StartsWith('[') ? IPAddress.TryParse(h.Trim('[', ']'), out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
            : h.Count(c => c == '.') == 3 && h.All(c => c == '.' || char.IsAsciiDigit(c)) && IPAddress.TryParse(h, out _));

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
        if (!_hosts.Contains(request.Host.Value ?? "") && !IsAddressOfAnyAddressListener(request.Host))
        {
            await Refuse(context, StatusCodes.Status403Forbidden, $"Host \"{request.Host.Value}\" is not this daemon ({string.Join(", ", _hosts)})");
            return;
        }
        string? origin = request.Headers.Origin;
        bool foreign = origin is not null && !_origins.Contains(origin) && !string.Equals(origin, "http://" + request.Host.Value, StringComparison.OrdinalIgnoreCase);
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
