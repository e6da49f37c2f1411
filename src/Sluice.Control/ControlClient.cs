using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Sluice.Control;

/// <summary>The daemon could not be reached: not running, wrong socket, no permission.</summary>
public sealed class DaemonUnreachableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The daemon answered an HTTP error outside the envelope (401, 403, 404 on Clash routes).</summary>
public sealed class ApiHttpException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// A client of the daemon's API, over its Unix socket (the CLI: file permissions are the credential) or
/// over HTTP with the bearer secret (scripts on another account, tests).
/// </summary>
public sealed class ControlClient : IDisposable
{
    private readonly HttpClient _http;

    private ControlClient(HttpClient http, string where)
    {
        _http = http;
        Where = where;
    }

    /// <summary>"unix:/run/sluice/sluice.sock" or the HTTP base address, for error messages.</summary>
    public string Where { get; }

    public static ControlClient ForUnixSocket(string path)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // The host name is never resolved (the connect callback ignores it); the daemon does not check it on the socket.
        return new ControlClient(new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = Timeout.InfiniteTimeSpan }, "unix:" + path);
    }

    public static ControlClient ForHttp(Uri baseAddress, string? secret)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        if (secret is { Length: > 0 }) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return new ControlClient(http, baseAddress.ToString());
    }

    public async Task<Envelope> CoreAsync(string action, object? parameters = null, CancellationToken cancellationToken = default)
    {
        JsonElement? p = parameters is null ? null : ApiJson.Element(parameters);
        using var response = await SendAsync(HttpMethod.Post, "api/core", JsonContent.Create(new CoreRequest(action, p), ApiJsonContext.Default.CoreRequest), cancellationToken).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonSerializer.Deserialize(body, ApiJsonContext.Default.Envelope) ?? throw new JsonException("empty body");
        }
        catch (JsonException)
        {
            throw new ApiHttpException((int)response.StatusCode, $"{Where} answered {(int)response.StatusCode} without an envelope: {Trim(body)}");
        }
    }

    /// <summary>GET a JSON document; non-2xx becomes <see cref="ApiHttpException"/>.</summary>
    public async Task<JsonElement> GetJsonAsync(string path, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw new ApiHttpException((int)response.StatusCode, $"GET /{path}: {(int)response.StatusCode} {Trim(body)}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken = default) =>
        (await GetJsonAsync(path, cancellationToken).ConfigureAwait(false)).Deserialize(ApiJson.TypeInfo<T>())
        ?? throw new ApiHttpException(200, $"GET /{path}: empty answer");

    /// <summary>Any request; the caller owns the response.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken = default,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        try
        {
            return await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AccessDenied })
        {
            throw new DaemonUnreachableException($"permission denied on {Where}: the socket is for root and the \"sluice\" group; join it (`sudo usermod -aG sluice $USER`, then log in again) or use sudo", e);
        }
        catch (HttpRequestException e)
        {
            throw new DaemonUnreachableException($"cannot reach the sluice daemon at {Where} ({e.InnerException?.Message ?? e.Message}); start it with `sluice daemon` (or set SLUICE_SOCKET)", e);
        }
    }

    /// <summary>Reads an NDJSON stream (<c>/traffic</c>, <c>/logs</c>, <c>/api/events</c>) line by line until cancelled or closed.</summary>
    public async IAsyncEnumerable<string> StreamLinesAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw new ApiHttpException((int)response.StatusCode, $"GET /{path}: {(int)response.StatusCode}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            if (line.Length > 0) yield return line;
    }

    private static string Trim(string body) => body.Length > 300 ? body[..300] + "…" : body;

    public void Dispose() => _http.Dispose();
}
