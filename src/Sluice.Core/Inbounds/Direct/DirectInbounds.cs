using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Flows;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Direct;

/// <summary>The engine's DNS listeners: all bind before any serves, and stop together.</summary>
internal sealed partial class DirectInbounds : IDisposable
{
    private readonly List<DirectInbound> _inbounds = [];

    private DirectInbounds()
    {
    }

    public static DirectInbounds Start(IReadOnlyList<DirectInboundOptions> options, DnsServer server, LaneSelector lanes,
        Func<FlowKey, ProcessInfo?>? lookup, ILoggerFactory logs)
    {
        var all = new DirectInbounds();
        var logger = logs.CreateLogger("dns");
        try
        {
            foreach (var o in options) all._inbounds.Add(new DirectInbound(o, server, lanes, lookup, logger));
        }
        catch
        {
            all.Dispose();
            throw;
        }
        foreach (var inbound in all._inbounds)
        {
            inbound.Start();
            LogListening(logger, inbound.Tag, inbound.Describe());
        }
        return all;
    }

    public string Describe() => string.Join(", ", _inbounds.Select(i => $"{i.Tag} on {i.Describe()}"));

    public void Dispose()
    {
        foreach (var inbound in _inbounds) inbound.Dispose();
        _inbounds.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Inbound}: DNS listening on {Endpoint}")]
    private static partial void LogListening(ILogger logger, string inbound, string endpoint);
}
