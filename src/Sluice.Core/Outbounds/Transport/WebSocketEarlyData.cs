using Microsoft.Extensions.Logging;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// What one outbound has learned about its server and early data in an upgrade header. A 101 that echoes
/// the header's value proves the server took the data (Xray does); a 101 without it proves nothing either
/// way: sing-box's server takes the data without echoing it, v2ray before 4.37 drops it. Sending the data
/// again in a frame would hand it twice to the first kind, so it is never resent. Instead a connection whose
/// early data was not echoed and that ends with nothing from the server (what a server that dropped the
/// request does) marks the server as one without early data: later connections of this outbound send their
/// first bytes as a frame. Logged once per outbound at info.
/// </summary>
internal sealed partial class WebSocketEarlyData(string who, ILogger logger)
{
    private int _serverIgnoresIt;

    /// <summary>True once a connection showed the server drops early data.</summary>
    public bool ServerIgnoresIt => Volatile.Read(ref _serverIgnoresIt) != 0;

    public void ServerIgnored(string header)
    {
        if (Interlocked.Exchange(ref _serverIgnoresIt, 1) == 0) LogIgnored(logger, who, header);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Who}: the server did not echo the early data in {Header} and closed the connection without answering: it ignores early data (v2ray before 4.37 does), so this outbound now sends the first bytes as a WebSocket frame (remove max_early_data to skip the failed first connection)")]
    private static partial void LogIgnored(ILogger logger, string who, string header);
}
