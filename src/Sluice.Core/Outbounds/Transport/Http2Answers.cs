using System.Net.Http.Headers;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>The "http" transport's answer over HTTP/2: 200 (as V2Ray's and sing-box's servers send), else what the server said.</summary>
internal static class HttpAnswer
{
    public static string? Check(HttpResponseMessage answer)
    {
        int status = (int)answer.StatusCode;
        if (status == 200) return null;
        return $"the server answered the HTTP/2 request with HTTP {status} {answer.ReasonPhrase}".TrimEnd()
            + (status is 404 or 400 or 405 ? " (check transport.path, transport.host and transport.method)" : "");
    }
}

/// <summary>
/// A gun call's answer (gRPC over HTTP/2 spec): HTTP 200 with content-type application/grpc; its grpc-status (in the
/// headers of a trailers-only answer, else in the trailers) 0, else the status's name and grpc-message.
/// </summary>
internal static class GrpcAnswer
{
    private static readonly string[] Names =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ];

    public static string? CheckHeaders(HttpResponseMessage answer)
    {
        int status = (int)answer.StatusCode;
        if (status != 200)
            return $"the server answered the gRPC call with HTTP {status} {answer.ReasonPhrase}".TrimEnd() + (status == 404 ? " (check transport.service_name)" : "");
        if (Status(answer.Headers) is { } problem) return problem;
        string? type = answer.Content.Headers.ContentType?.MediaType;
        if (type is null || !type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
            return $"the server is not a gRPC server: its answer's content-type is {type ?? "missing"}";
        return null;
    }

    public static string? CheckEnd(HttpResponseMessage answer) => Status(answer.TrailingHeaders) ?? Status(answer.Headers);

    /// <summary>The problem a non-zero grpc-status in <paramref name="headers"/> names; null for 0 or none.</summary>
    public static string? Status(HttpHeaders headers)
    {
        if (!headers.TryGetValues("grpc-status", out var values)) return null;
        string code = values.FirstOrDefault() ?? "";
        if (code == "0") return null;
        string name = int.TryParse(code, out int n) && n >= 0 && n < Names.Length ? Names[n] : "unknown status";
        string message = headers.TryGetValues("grpc-message", out var m) ? Uri.UnescapeDataString(string.Join(",", m)) : "";
        if (message.Length > 200) message = message[..200];
        return $"the server ended the gRPC call with status {code} {name}" + (message.Length > 0 ? $": {message}" : "")
            + (n == 12 ? " (check transport.service_name)" : "");
    }
}
