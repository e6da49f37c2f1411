using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Monitoring;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>The engine's mixed inbounds: all listen before any accepts, and stop together.</summary>
internal sealed partial class MixedInbounds : IDisposable
{
    private readonly List<MixedInbound> _inbounds = [];

    private MixedInbounds()
    {
    }

    public static MixedInbounds Start(IReadOnlyList<MixedInboundOptions> options, LaneSelector lanes, Func<FlowKey, ProcessInfo?>? lookup, ConnectionRegistry connections, ILoggerFactory logs)
    {
        var all = new MixedInbounds();
        var logger = logs.CreateLogger("mixed");
        try
        {
            foreach (var o in options) all._inbounds.Add(new MixedInbound(o, lanes, lookup, connections, logger));
        }
        catch
        {
            all.Dispose();
            throw;
        }
        foreach (var inbound in all._inbounds)
        {
            inbound.Start();
            LogListening(logger, inbound.Tag, inbound.Endpoint);
        }
        return all;
    }

    public string Describe() => string.Join(", ", _inbounds.Select(i => $"{i.Tag} on {i.Endpoint}"));

    public void Dispose()
    {
        foreach (var inbound in _inbounds) inbound.Dispose();
        _inbounds.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Inbound}: SOCKS5 + HTTP proxy listening on {Endpoint}")]
    private static partial void LogListening(ILogger logger, string inbound, string endpoint);
}
