using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Inbounds.Mixed;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Direct;
using Sluice.Core.Routing;
using Sluice.Core.Stack;

namespace Sluice.Core.Tests.Inbounds;

/// <summary>A proxy inbound from its config JSON on a loopback port of its own, routing everything to a real direct outbound.</summary>
internal static class LoopbackMixedInbound
{
    public static MixedInbound Start(string inboundJson, PlainSockets? sockets = null)
    {
        sockets ??= new PlainSockets();
        var config = ConfigLoader.Load($$"""{"inbounds": [{{inboundJson}}], "outbounds": [{"type": "direct", "tag": "direct"}]}""");
        var options = config.MixedInbounds.Single() with { ListenPort = 0 };
        var direct = new DirectOutbound("direct", DialOptions.Default, sockets);
        var lanes = new LaneSelector(Router.Compile(config.Route, ["direct"], "direct"), new Dictionary<string, IOutbound> { ["direct"] = direct },
            "direct", false, NullLogger.Instance);
        var admission = new FlowAdmission(lanes, new ConnectionRegistry(TimeProvider.System), NullLogger.Instance);
        var inbound = new MixedInbound(options, admission, null, sockets.Hosts, sockets, new RelayBuffers(EngineLimits.Default), NullLogger.Instance);
        inbound.Start();
        return inbound;
    }
}
