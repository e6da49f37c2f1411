using System.Text.Json;
using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>Reads an outbound's "transport" object (sing-box syntax); errors carry the JSON path.</summary>
internal static class TransportOptionsParser
{
    private static readonly string[] Known = ["ws", "http", "grpc", "quic", "httpupgrade"];

    public static TransportOptions? Parse(ObjectReader outbound)
    {
        if (outbound.Take("transport") is not { } element) return null;
        if (ObjectReader.Open(element, outbound.PathOf("transport"), outbound.Errors) is not { } r) return null;
        string? type = r.String("type");
        switch (type)
        {
            case "ws":
                return ParseWebSocket(r);
            case null or "" when ObjectReader.IsInert(element):
                // sing-box's zero transport ({} or "type": "", as exporters write it for plain TCP) means none.
                return null;
            case null:
                r.Errors.Add(r.PathOf("type"), "required (\"ws\")");
                return null;
            default:
                foreach (var p in element.EnumerateObject()) r.Ignore(p.Name);
                r.Errors.Add(r.PathOf("type"), Array.IndexOf(Known, type) >= 0
                    ? $"transport {JsonPath.Quote(type)} is not supported by Sluice yet (supported: \"ws\")"
                    : $"{JsonPath.Quote(type)} is not a V2Ray transport (supported: \"ws\")");
                return null;
        }
    }

    private static WebSocketTransportOptions ParseWebSocket(ObjectReader r)
    {
        string path = r.String("path") ?? "/";
        if (path.Length == 0) path = "/";
        if (!path.StartsWith('/')) r.Errors.Add(r.PathOf("path"), $"{JsonPath.Quote(path)} must start with \"/\"");
        else if (path.Any(c => c <= ' ' || c >= 0x7f)) r.Errors.Add(r.PathOf("path"), "must not hold spaces or control characters (percent-encode them)");
        var headers = ParseHeaders(r);
        int earlyData = (int)(r.Integer("max_early_data", 0, 64 * 1024) ?? 0);
        string? headerName = r.String("early_data_header_name");
        if (headerName is { Length: 0 }) headerName = null;
        if (headerName is not null && !IsToken(headerName))
            r.Errors.Add(r.PathOf("early_data_header_name"), $"{JsonPath.Quote(headerName)} is not an HTTP header name");
        r.Finish();
        return new WebSocketTransportOptions(path, headers, earlyData, headerName);
    }

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
    private static bool IsToken(string name) =>
        name.Length > 0 && name.All(c => c is > ' ' and < (char)0x7f && "()<>@,;:\\\"/[]?={}".IndexOf(c) < 0);
}
