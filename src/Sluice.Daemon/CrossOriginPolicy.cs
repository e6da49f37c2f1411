using Microsoft.AspNetCore.Http;
using Sluice.Core.Configuration;

namespace Sluice.Daemon;

/// <summary>
/// CORS for the web pages experimental.clash_api.access_control_allow_origin names (a dashboard served from
/// another origin). The policy only lets the browser show such a page the answers; it is no credential: the
/// bearer secret is still required on every call but the preflight (browsers send preflights without it).
/// 1. An OPTIONS preflight from an allowed origin is answered 204 with the methods and the two headers
///    dashboards send (Authorization, Content-Type), cached 10 minutes;
/// 2. Chromium's Private Network Access preflight (Access-Control-Request-Private-Network: true) is granted
///    only with access_control_allow_private_network;
/// 3. every answer to an allowed origin names that origin (echoed, never "*", so the answer varies by Origin).
/// A clash_api section with no list allows every origin (sing-box's default); a daemon API without clash_api allows
/// none: no CORS header is ever sent and other origins are refused.
/// </summary>
internal sealed class CrossOriginPolicy(ClashDashboardOptions options)
{
    private const string Methods = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
    private readonly HashSet<string> _origins = new(options.AllowOrigins.Where(o => o != "*"), StringComparer.OrdinalIgnoreCase);

    public static CrossOriginPolicy None { get; } = new(ClashDashboardOptions.None);

    public bool Allows(string origin) => options.AllowsAnyOrigin || _origins.Contains(origin);

    public static bool IsPreflight(HttpRequest request) =>
        HttpMethods.IsOptions(request.Method) && request.Headers.ContainsKey("Access-Control-Request-Method");

    /// <summary>Adds the CORS headers for an allowed <paramref name="origin"/>; answers a preflight (true = done).</summary>
    public bool Apply(HttpContext context, string origin)
    {
        var request = context.Request;
        var headers = context.Response.Headers;
        headers.AccessControlAllowOrigin = origin;
        headers.Vary = "Origin";
        if (!IsPreflight(request)) return false;
        headers.AccessControlAllowMethods = Methods;
        headers.AccessControlAllowHeaders = "Authorization, Content-Type";
        headers.AccessControlMaxAge = "600";
        if (options.AllowPrivateNetwork && string.Equals(request.Headers["Access-Control-Request-Private-Network"], "true", StringComparison.OrdinalIgnoreCase))
            headers["Access-Control-Allow-Private-Network"] = "true";
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return true;
    }
}
