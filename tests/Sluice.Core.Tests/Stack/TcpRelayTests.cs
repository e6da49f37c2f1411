using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Packets;
using Sluice.Tests;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// The relay side of the NAT on loopback: the listener stands on 127.0.0.1 and the test's socket plays the app
/// steered to it, bound to the NAT port of its entry.
/// </summary>
public sealed class TcpRelayTests
{
    [Fact]
    public async Task OutboundFailingWithAnUnlistedException_IsLogged_AndTheAppReset()
    {
        var logs = new LogLines();
        var clock = new FakeClock();
        var outbound = new FailingOutbound(new InvalidOperationException("dial state broken"));
        var lanes = new LaneSelector(Router.Compile(RouteOptions.Empty, ["out"], "out"), new Dictionary<string, IOutbound> { ["out"] = outbound }, "out", false, NullLogger.Instance);
        var connections = new ConnectionRegistry(clock);
        var nat = new TcpNat(NetAddress.Parse("127.0.0.1"), NetAddress.Parse("127.0.0.2"));
        using var relay = new TcpRelay(nat, new PlainSockets(), new FlowAdmission(lanes, connections, logs.CreateLogger("route")), null,
            logs.CreateLogger("tcp"), EngineLimits.Default, clock);
        relay.Start();
        using var app = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // The app's socket takes the NAT port as its own; other tests running alongside may hold that port
        // on loopback, so a taken one moves to the next flow's entry.
        for (ushort sourcePort = 50000; ; sourcePort++)
        {
            var key = new FlowKey(IpProtocol.Tcp, NetAddress.Parse("172.19.0.1"), sourcePort, NetAddress.Parse("203.0.113.10"), 80);
            var entry = nat.Add(key, new FlowContext(key, "tun-in", null), null, 0)!;
            try
            {
                app.Bind(new IPEndPoint(IPAddress.Loopback, entry.NatPort));
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && sourcePort < 50010)
            {
            }
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            // The reset can come before the connect is reported done (seen under load): the connect throws it then.
            await app.ConnectAsync(IPAddress.Loopback, nat.ListenPort);
            Assert.Equal(0, await app.ReceiveAsync(new byte[1], SocketFlags.None, timeout.Token));
        }
        catch (SocketException e)
        {
            Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        }

        for (int i = 0; i < 100 && relay.Active > 0; i++) await Task.Delay(20);
        Assert.Contains(logs.Lines, l => l.StartsWith("tcp: ", StringComparison.Ordinal)
            && l.Contains("relay failed: InvalidOperationException: dial state broken", StringComparison.Ordinal));
        Assert.Empty(connections.Snapshot());
        Assert.Equal(0, relay.Active);
    }
}
