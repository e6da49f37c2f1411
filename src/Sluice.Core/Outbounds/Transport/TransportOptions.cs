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
