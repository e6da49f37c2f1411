using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Control;
using Sluice.Core;
using Sluice.Daemon;
using Sluice.Tests;

namespace Sluice.Daemon.Tests;

/// <summary>
/// `reload` through the supervisor, without root: an engine with only the SOCKS5/HTTP inbound on loopback and
/// plain sockets. Live connections through it are the flows a reload must keep or close.
/// </summary>
public sealed class ReloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-reload-").FullName;
    private readonly int _proxyPort = FreePort();
    private readonly TcpListener _keepServer = Echo();
    private readonly TcpListener _goneServer = Echo();
    private readonly EngineSupervisor _supervisor;

    public ReloadTests()
    {
        _supervisor = new EngineSupervisor(WithoutTun(), new StateStore(_dir), NullLoggerFactory.Instance, TimeProvider.System, null);
    }

    /// <summary>A daemon platform for engines with local inbounds only: plain sockets, no TUN, gate or network monitor.</summary>
    internal static DaemonPlatform WithoutTun() => new(
        () => new EnginePlatform(_ => throw new NotSupportedException("no TUN in this test"), null, _ => new PlainSockets(), null),
        (_, _) => null, () => null, _ => null);

    private string ConfigPath => Path.Combine(_dir, "config.json");

    private string Config(bool withGone, string extraRule = "") => $$"""
        {
          "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{_proxyPort}}}],
          "outbounds": [
            {"type": "direct", "tag": "direct"},
            {"type": "direct", "tag": "keep"}{{(withGone ? ", {\"type\": \"direct\", \"tag\": \"gone\"}" : "")}}
          ],
          "route": {
            "rules": [
              {{extraRule}}
              {"port": [{{Port(_keepServer)}}], "outbound": "keep"}{{(withGone ? $", {{\"port\": [{Port(_goneServer)}], \"outbound\": \"gone\"}}" : "")}}
            ],
            "final": "direct"
          }
        }
        """;

    [Fact]
    public async Task Reload_KeepsAFlowOnAnUnchangedOutbound_AndResetsOneOnARemovedOutbound()
    {
        File.WriteAllText(ConfigPath, Config(withGone: true));
        Assert.Equal(ApiCodes.Ok, (await _supervisor.UpAsync(null, ConfigPath, null)).Code);
        using var kept = await ThroughProxy(Port(_keepServer));
        using var gone = await ThroughProxy(Port(_goneServer));
        await AssertEchoes(kept, 1);
        await AssertEchoes(gone, 2);

        File.WriteAllText(ConfigPath, Config(withGone: false, extraRule: """{"port": [22], "action": "reject"},"""));
        var answer = await _supervisor.ReloadAsync();

        Assert.Equal(ApiCodes.Ok, answer.Code);
        var reload = answer.DataAs<ReloadData>()!;
        Assert.Equal((1, 1, null, EngineStates.Connected), (reload.Kept, reload.Closed, reload.Restarted, reload.State));
        Assert.Equal(["gone"], reload.Replaced);
        await AssertEchoes(kept, 3);
        await AssertEnded(gone);
    }

    [Fact]
    public async Task ReloadOfABrokenConfig_ChangesNothing_AndAnswersTheJsonPath()
    {
        File.WriteAllText(ConfigPath, Config(withGone: true));
        Assert.Equal(ApiCodes.Ok, (await _supervisor.UpAsync(null, ConfigPath, null)).Code);
        using var kept = await ThroughProxy(Port(_goneServer));
        await AssertEchoes(kept, 1);
        var engine = _supervisor.Engine;

        File.WriteAllText(ConfigPath, Config(withGone: true).Replace("\"final\": \"direct\"", "\"final\": \"nowhere\"", StringComparison.Ordinal));
        var answer = await _supervisor.ReloadAsync();

        Assert.Equal(ApiCodes.InvalidConfig, answer.Code);
        Assert.Contains("route.final", answer.Message, StringComparison.Ordinal);
        Assert.Contains(answer.DataAs<ConfigErrorsData>()!.Errors, e => e.Path == "route.final");
        Assert.Same(engine, _supervisor.Engine);
        Assert.Equal(EngineStates.Connected, _supervisor.State);
        await AssertEchoes(kept, 2);
    }

    [Fact]
    public async Task ReloadOfAChangedInbound_Restarts_AndSaysWhy()
    {
        File.WriteAllText(ConfigPath, Config(withGone: true));
        Assert.Equal(ApiCodes.Ok, (await _supervisor.UpAsync(null, ConfigPath, null)).Code);
        var engine = _supervisor.Engine;

        File.WriteAllText(ConfigPath, Config(withGone: true).Replace("\"tag\": \"mixed-in\"", "\"tag\": \"proxy-in\"", StringComparison.Ordinal));
        var reload = (await _supervisor.ReloadAsync()).DataAs<ReloadData>()!;

        Assert.Equal(("\"inbounds\" changed", EngineStates.Connected), (reload.Restarted, reload.State));
        Assert.NotSame(engine, _supervisor.Engine);
    }

    /// <summary>A SOCKS5 CONNECT to 127.0.0.1:<paramref name="port"/> through the engine's mixed inbound.</summary>
    private async Task<Socket> ThroughProxy(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 5000 };
        await socket.ConnectAsync(IPAddress.Loopback, _proxyPort);
        await socket.SendAsync(new byte[] { 5, 1, 0 });
        await ReceiveExactly(socket, 2);
        await socket.SendAsync(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, (byte)(port >> 8), (byte)port });
        var reply = await ReceiveExactly(socket, 10);
        Assert.Equal(0, reply[1]);
        return socket;
    }

    private static async Task AssertEchoes(Socket socket, byte value)
    {
        await socket.SendAsync(new[] { value });
        Assert.Equal(value, (await ReceiveExactly(socket, 1))[0]);
    }

    private static async Task AssertEnded(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.SendAsync(new byte[] { 9 });
            int n = await socket.ReceiveAsync(new byte[1], SocketFlags.None, timeout.Token);
            Assert.Equal(0, n);
        }
        catch (SocketException e)
        {
            Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        }
    }

    private static async Task<byte[]> ReceiveExactly(Socket socket, int count)
    {
        var buffer = new byte[count];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        for (int have = 0; have < count;)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None, timeout.Token);
            if (n == 0) throw new IOException("the connection ended");
            have += n;
        }
        return buffer;
    }

    private static TcpListener Echo()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptSocketAsync();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    return;
                }
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var buffer = new byte[256];
                        try
                        {
                            int n;
                            while ((n = await client.ReceiveAsync(buffer)) > 0) await client.SendAsync(buffer.AsMemory(0, n));
                        }
                        catch (SocketException)
                        {
                        }
                    }
                });
            }
        });
        return listener;
    }

    private static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public void Dispose()
    {
        _supervisor.Dispose();
        _keepServer.Stop();
        _goneServer.Stop();
        Directory.Delete(_dir, recursive: true);
    }
}
