using Microsoft.Extensions.Logging;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// What one outbound has learned about its server and early data in an upgrade header. A 101 that echoes
/// the header's value proves the server took the data (Xray does); a 101 without it proves nothing either
/// way: sing-box's server takes the data without echoing it, v2ray before 4.37 drops it (and then waits for
/// a frame that never comes, so such a connection ends only when the app gives up). Sending the data again
/// in a frame would hand it twice to the first kind, so it is never resent. Instead a connection whose early
/// data was not echoed and that ends with nothing from the server (what a server that dropped the request
/// does) marks the server as one without early data: later connections of this outbound send their first
/// bytes as a frame. That connection is logged as what it most likely was (early data dropped), not as the
/// protocol's "wrong uuid/password?" refusal: one warning per such connection, and only connections opened
/// before the first one ended can be such.
/// </summary>
internal sealed partial class WebSocketEarlyData(string who, ILogger logger)
{
    private int _serverIgnoresIt;

    /// <summary>True once a connection showed the server drops early data.</summary>
    public bool ServerIgnoresIt => Volatile.Read(ref _serverIgnoresIt) != 0;

    /// <summary>One connection's early data went unechoed and the server ended it without a byte: logs it, returns what to throw.</summary>
    public IOException ServerIgnored(string header)
    {
        Interlocked.Exchange(ref _serverIgnoresIt, 1);
        LogIgnored(logger, who, header);
        return new IOException($"{who}: the server dropped the early data in {header}: it closed the connection without answering");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: the server answered the WebSocket upgrade without echoing the early data in {Header}, then closed the connection without sending anything: it ignores early data (v2ray before 4.37 does), so this connection's first bytes never reached it and the connection is closed; later connections of this outbound send the first bytes as a WebSocket frame instead (if those are refused too, the uuid or password is wrong; remove max_early_data to skip the failed first connection)")]
    private static partial void LogIgnored(ILogger logger, string who, string header);
}
