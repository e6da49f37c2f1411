namespace Sluice.Core.Outbounds.Transport;

/// <summary>sing-box's "transport" object (V2Ray transports) of an outbound; null there means a plain stream.</summary>
public abstract record TransportOptions(string Type);

/// <summary>
/// "type": "ws": the proxy stream inside a WebSocket (RFC 6455) opened with an HTTP/1.1 upgrade.
/// </summary>
/// <param name="Path">Request path, default "/".</param>
/// <param name="Headers">Extra request headers (e.g. "Host"); the Host default is the TLS server_name, else the server.</param>
/// <param name="MaxEarlyData">
/// Default 0 (off). Up to this many of the first bytes ride in the upgrade request itself (no extra round
/// trip), base64url-encoded: appended to the path, or in <paramref name="EarlyDataHeaderName"/> when set.
/// The server must be configured for it (v2ray's maxEarlyData); otherwise it sees a wrong path.
/// </param>
/// <param name="EarlyDataHeaderName">"Sec-WebSocket-Protocol" for Xray/v2ray servers; null = in the path.</param>
public sealed record WebSocketTransportOptions(string Path, IReadOnlyList<KeyValuePair<string, string>> Headers, int MaxEarlyData, string? EarlyDataHeaderName)
    : TransportOptions("ws");

/// <summary>
/// "type": "httpupgrade": an HTTP/1.1 GET with "Connection: Upgrade" and "Upgrade: websocket"; after the server's
/// 101 the connection carries the proxy stream as it is (no WebSocket frames).
/// </summary>
/// <param name="Host">The Host header; null = the TLS server_name, else the server.</param>
/// <param name="Path">Request path, default "/".</param>
/// <param name="Headers">Extra request headers.</param>
public sealed record HttpUpgradeTransportOptions(string? Host, string Path, IReadOnlyList<KeyValuePair<string, string>> Headers)
    : TransportOptions("httpupgrade");

/// <summary>
/// "type": "http": with TLS, each proxied connection is one HTTP/2 stream (request body up, response body down), the
/// outbound's streams sharing its connections; without TLS, sing-box's plain HTTP/1.1 form (a request head, then
/// the stream as it is, the answer a 200 head).
/// </summary>
/// <param name="Hosts">Host (HTTP/2 :authority) picked at random per connection; empty = "www.example.com" over HTTP/2 (V2Ray's default), the server over HTTP/1.1.</param>
/// <param name="Path">Request path, default "/".</param>
/// <param name="Method">Default "PUT" (V2Ray's).</param>
/// <param name="Headers">Extra request headers.</param>
/// <param name="IdleTimeout">
/// Default 0 (off). A connection silent this long with streams open is checked with an HTTP/2 PING; one with no streams
/// is closed after it (after <see cref="EngineLimits.Http2IdleConnection"/> when 0).
/// </param>
/// <param name="PingTimeout">An unanswered PING closes the connection after this long: default 15 s.</param>
public sealed record HttpTransportOptions(IReadOnlyList<string> Hosts, string Path, string Method, IReadOnlyList<KeyValuePair<string, string>> Headers,
    TimeSpan IdleTimeout, TimeSpan PingTimeout) : TransportOptions("http");

/// <summary>
/// "type": "grpc": V2Ray's "gun": each proxied connection is one gRPC stream-stream call, POST /{service_name}/Tun over
/// HTTP/2 (TLS with ALPN h2, or cleartext with prior knowledge), each chunk a message holding Hunk { bytes data = 1 }.
/// </summary>
/// <param name="ServiceName">The gRPC service; the server checks it.</param>
/// <param name="IdleTimeout">As <see cref="HttpTransportOptions.IdleTimeout"/>.</param>
/// <param name="PingTimeout">As <see cref="HttpTransportOptions.PingTimeout"/>.</param>
/// <param name="PermitWithoutStream">Send the health-check PINGs on a connection with no streams too (default false).</param>
public sealed record GrpcTransportOptions(string ServiceName, TimeSpan IdleTimeout, TimeSpan PingTimeout, bool PermitWithoutStream)
    : TransportOptions("grpc");
