using System.Text.Json;
using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>Reads an outbound's "transport" object (sing-box syntax); errors carry the JSON path.</summary>
internal static class TransportOptionsParser
{
    private static readonly string[] Known = ["ws", "http", "grpc", "quic", "httpupgrade"];
    private const string Supported = "\"ws\", \"httpupgrade\", \"http\", \"grpc\"";

    /// <summary>sing-box's ping_timeout default for the HTTP/2 transports.</summary>
    private static readonly TimeSpan DefaultPingTimeout = TimeSpan.FromSeconds(15);

    public static TransportOptions? Parse(ObjectReader outbound)
    {
        if (outbound.Take("transport") is not { } element) return null;
        if (ObjectReader.Open(element, outbound.PathOf("transport"), outbound.Errors) is not { } r) return null;
        string? type = r.String("type");
        switch (type)
        {
            case "ws":
                return ParseWebSocket(r);
            case "httpupgrade":
                return ParseHttpUpgrade(r);
            case "http":
                return ParseHttp(r);
            case "grpc":
                return ParseGrpc(r);
            case null or "" when ObjectReader.IsInert(element):
                // sing-box's zero transport ({} or "type": "", as exporters write it for plain TCP) means none.
                return null;
            case null:
                r.Errors.Add(r.PathOf("type"), $"required ({Supported})");
                return null;
            default:
                foreach (var p in element.EnumerateObject()) r.Ignore(p.Name);
                r.Errors.Add(r.PathOf("type"), Array.IndexOf(Known, type) >= 0
                    ? $"transport {JsonPath.Quote(type)} is not supported by Sluice yet (supported: {Supported})"
                    : $"{JsonPath.Quote(type)} is not a V2Ray transport (supported: {Supported})");
                return null;
        }
    }

    private static WebSocketTransportOptions ParseWebSocket(ObjectReader r)
    {
        string path = ParsePath(r);
        var headers = ParseHeaders(r);
        int earlyData = (int)(r.Integer("max_early_data", 0, 64 * 1024) ?? 0);
        string? headerName = r.String("early_data_header_name");
        if (headerName is { Length: 0 }) headerName = null;
        if (headerName is not null && !IsToken(headerName))
            r.Errors.Add(r.PathOf("early_data_header_name"), $"{JsonPath.Quote(headerName)} is not an HTTP header name");
        r.Finish();
        return new WebSocketTransportOptions(path, headers, earlyData, headerName);
    }

    private static HttpUpgradeTransportOptions ParseHttpUpgrade(ObjectReader r)
    {
        string? host = r.String("host");
        if (host is { Length: 0 }) host = null;
        if (host is not null && !IsHost(host)) r.Errors.Add(r.PathOf("host"), $"{JsonPath.Quote(host)} is not a host name (\"name\" or \"name:port\")");
        string path = ParsePath(r);
        var headers = ParseHeaders(r);
        r.Finish();
        return new HttpUpgradeTransportOptions(host, path, headers);
    }

    private static HttpTransportOptions ParseHttp(ObjectReader r)
    {
        var hosts = r.Strings("host").Where(h => h.Length > 0).ToList();
        for (int i = 0; i < hosts.Count; i++)
        {
            if (!IsHost(hosts[i])) r.Errors.Add(JsonPath.Index(r.PathOf("host"), i), $"{JsonPath.Quote(hosts[i])} is not a host name (\"name\" or \"name:port\")");
        }
        string path = ParsePath(r);
        string method = r.String("method") is { Length: > 0 } m ? m : "PUT";
        if (!IsToken(method)) r.Errors.Add(r.PathOf("method"), $"{JsonPath.Quote(method)} is not an HTTP method");
        var headers = ParseHeaders(r);
        var idle = r.Duration("idle_timeout") ?? TimeSpan.Zero;
        var ping = r.Duration("ping_timeout") is { } p && p > TimeSpan.Zero ? p : DefaultPingTimeout;
        r.Finish();
        return new HttpTransportOptions(hosts, path, method, headers, idle, ping);
    }

    private static GrpcTransportOptions ParseGrpc(ObjectReader r)
    {
        string service = r.String("service_name") ?? "";
        // gRPC's spec allows letters, digits, '_' and '.' in a service name; V2Ray servers compare it as written.
        if (service.Any(c => c <= ' ' || c >= 0x7f || c == '/'))
            r.Errors.Add(r.PathOf("service_name"), $"{JsonPath.Quote(service)} must not hold '/', spaces or control characters");
        var idle = r.Duration("idle_timeout") ?? TimeSpan.Zero;
        var ping = r.Duration("ping_timeout") is { } p && p > TimeSpan.Zero ? p : DefaultPingTimeout;
        bool permit = r.Bool("permit_without_stream", false);
        r.Finish();
        return new GrpcTransportOptions(service, idle, ping, permit);
    }

    /// <summary>"path": default "/"; it goes into the request line as written, so it must be printable ASCII.</summary>
    private static string ParsePath(ObjectReader r)
    {
        string path = r.String("path") ?? "/";
        if (path.Length == 0) path = "/";
        if (!path.StartsWith('/')) r.Errors.Add(r.PathOf("path"), $"{JsonPath.Quote(path)} must start with \"/\"");
        else if (path.Any(c => c <= ' ' || c >= 0x7f)) r.Errors.Add(r.PathOf("path"), "must not hold spaces or control characters (percent-encode them)");
        return path;
    }

    /// <summary>A Host header value: a name or address, optionally with ":port" (no spaces, no path).</summary>
    private static bool IsHost(string host) =>
        host.Length <= 255 && host.All(c => c is > ' ' and < (char)0x7f && "/?#@\\\"".IndexOf(c) < 0);

    /// <summary>"headers": {"Name": "value"} or {"Name": ["v1", "v2"]}, as sing-box accepts.</summary>
    internal static IReadOnlyList<KeyValuePair<string, string>> ParseHeaders(ObjectReader r)
    {
        var result = new List<KeyValuePair<string, string>>();
        if (r.Take("headers") is not { } element) return result;
        string path = r.PathOf("headers");
        if (element.ValueKind != JsonValueKind.Object)
        {
            ObjectReader.TypeError(path, "an object of header names to values", element, r.Errors);
            return result;
        }
        foreach (var p in element.EnumerateObject())
        {
            string at = JsonPath.Field(path, p.Name);
            if (!IsToken(p.Name))
            {
                r.Errors.Add(at, "is not an HTTP header name");
                continue;
            }
            var values = p.Value.ValueKind == JsonValueKind.Array ? p.Value.EnumerateArray().ToList() : [p.Value];
            foreach (var v in values)
            {
                if (v.ValueKind != JsonValueKind.String)
                    ObjectReader.TypeError(at, "a string", v, r.Errors);
                else if (v.GetString()!.Any(c => c is '\r' or '\n' or '\0'))
                    r.Errors.Add(at, "a header value must not hold line breaks");
                else
                    result.Add(new(p.Name, v.GetString()!));
            }
        }
        return result;
    }

    /// <summary>RFC 9110 token characters.</summary>
    internal static bool IsToken(string name) =>
        name.Length > 0 && name.All(c => c is > ' ' and < (char)0x7f && "()<>@,;:\\\"/[]?={}".IndexOf(c) < 0);
}
