using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core;
using Sluice.Core.Flows;
using Sluice.Daemon;
using Sluice.Packets;
using Sluice.Tests;

namespace Sluice.Daemon.Tests;

/// <summary>
/// SIGTERM (the daemon's stop token) while the engine carries a flood of new flows (issue 17's soak: "daemon
/// stopping", then no exit within systemd's 15 s). The whole daemon runs: API on a Unix socket, the remembered
/// "up" resumed, the 1 s traffic sampler looking up each new flow's process. A lookup here costs what a /proc
/// scan costs on a busy host, so a sample outlasts its 1 s period as it did in the soak.
/// </summary>
public sealed class DaemonStopTests : IDisposable
{
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(2);
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-stop-").FullName;
    private readonly int _proxyPort = FreePort();
    private readonly TcpListener _sink = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _held = [];
    private readonly List<Socket> _accepted = [];
    private const int MaxHeld = 400;
    private volatile bool _flooding = true;
    private int _opened;

    [Fact]
    public void StopRequested_DuringAFloodOfNewFlows_TheDaemonReturnsWithinTwoSeconds()
    {
        _sink.Start(4096);
        var accepter = new Thread(Accept) { IsBackground = true };
        accepter.Start();
        var lookups = new SlowProcessLookup(TimeSpan.FromMilliseconds(20));
        var platform = new DaemonPlatform(
            () => new EnginePlatform(_ => throw new NotSupportedException("no TUN in this test"), null, _ => new PlainSockets(), lookups),
            (_, _) => null, () => null, _ => null);
        string config = $$"""
            {"inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{_proxyPort}}}],
             "outbounds": [{"type": "direct", "tag": "direct"}], "route": {"final": "direct"}
            }
            """;
        string stateDir = Path.Combine(_dir, "state");
        new StateStore(stateDir).SaveUp(config, null);
        var options = new DaemonOptions(Path.Combine(_dir, "sluice.sock"), Path.Combine(_dir, "secret"), stateDir, null, null, "test");
        var host = new DaemonHost(options, platform, NullLoggerFactory.Instance, new LogBroadcast());
        using var stop = new CancellationTokenSource();
        using var ready = new ManualResetEventSlim();
        using var returned = new ManualResetEventSlim();
        Exception? failure = null;
        // The daemon on a thread of its own, and the waits below on events: nothing here needs the thread pool
        // the daemon may have starved.
        var daemon = new Thread(() =>
        {
            try
            {
                host.RunAsync(ready.Set, stop.Token).GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                returned.Set();
            }
        }) { IsBackground = true };
        daemon.Start();
        Assert.True(ready.Wait(TimeSpan.FromSeconds(30)), $"the daemon did not start: {failure}");

        var flooders = Enumerable.Range(0, 4).Select(_ => new Thread(Flood) { IsBackground = true }).ToArray();
        foreach (var flooder in flooders) flooder.Start();
        Thread.Sleep(TimeSpan.FromSeconds(5));
        int opened = Volatile.Read(ref _opened);
        // The flood is real: flows went through the engine and the sampler was looking their processes up.
        Assert.True(opened >= 100, $"only {opened} flows went through the engine: the flood proves nothing");
        Assert.True(lookups.Calls >= 20, $"only {lookups.Calls} process lookups: the sampler was not busy");

        var clock = Stopwatch.StartNew();
        stop.Cancel();
        bool exited = returned.Wait(TimeSpan.FromSeconds(30));
        clock.Stop();
        _flooding = false;

        Assert.True(exited, "the daemon did not return within 30 s of the stop request");
        Assert.Null(failure);
        Assert.True(clock.Elapsed < StopBound, $"the daemon took {clock.Elapsed.TotalSeconds:F1} s to stop ({opened} flows opened, {lookups.Calls} lookups), over {StopBound.TotalSeconds} s");
        Assert.False(File.Exists(options.SocketPath), "the API socket was left behind");
    }

    /// <summary>New SOCKS5 flows through the engine to the sink, kept open, as fast as the engine takes them.</summary>
    private void Flood()
    {
        int port = ((IPEndPoint)_sink.LocalEndpoint).Port;
        var buffer = new byte[16];
        while (_flooding)
        {
            Socket socket;
            try
            {
                socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 5000, SendTimeout = 5000 };
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
                continue;
            }
            try
            {
                socket.Connect(IPAddress.Loopback, _proxyPort);
                socket.Send([5, 1, 0]);
                socket.Receive(buffer, 2, SocketFlags.None);
                socket.Send([5, 1, 0, 1, 127, 0, 0, 1, (byte)(port >> 8), (byte)port]);
                int have = 0;
                while (have < 10)
                {
                    int n = socket.Receive(buffer, have, 10 - have, SocketFlags.None);
                    if (n == 0) break;
                    have += n;
                }
                lock (_held)
                {
                    _held.Add(socket);
                    // At most MaxHeld flows stay open (the oldest closes): new flows keep coming, file descriptors stay few.
                    while (_held.Count > MaxHeld)
                    {
                        _held[0].Dispose();
                        _held.RemoveAt(0);
                    }
                }
                Interlocked.Increment(ref _opened);
            }
            catch (SocketException)
            {
                socket.Dispose();
                if (_flooding) Thread.Sleep(10);
            }
        }
    }

    private void Accept()
    {
        while (true)
        {
            try
            {
                var socket = _sink.AcceptSocket();
                lock (_accepted)
                {
                    _accepted.Add(socket);
                    while (_accepted.Count > MaxHeld)
                    {
                        _accepted[0].Dispose();
                        _accepted.RemoveAt(0);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
        }
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public void Dispose()
    {
        _flooding = false;
        _sink.Stop();
        foreach (var list in new[] { _held, _accepted })
        {
            lock (list)
            {
                foreach (var socket in list) socket.Dispose();
                list.Clear();
            }
        }
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A process lookup as slow as a /proc scan on a busy host; counts its calls.</summary>
    private sealed class SlowProcessLookup(TimeSpan cost) : IProcessLookup
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public ProcessInfo? Find(FlowKey flow)
        {
            Interlocked.Increment(ref _calls);
            Thread.Sleep(cost);
            return new ProcessInfo(0, 4242, "flooder", "/usr/bin/flooder");
        }
    }
}
