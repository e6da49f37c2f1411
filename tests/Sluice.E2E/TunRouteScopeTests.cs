using System.Diagnostics;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// tun exclude_uid / include_uid: the kernel's policy rules keep a user's traffic out of the TUN
/// altogether. The oracles are on the TUN itself: its packet counters and a tshark on sluice0, each
/// with a positive control (a user who is not excluded is seen by both).
/// </summary>
public sealed class TunRouteScopeTests : IDisposable
{
    private const int ExcludedUid = 60401, OtherUid = 60402;
    private const int ExcludedPort = 41001, OtherPort = 41002;
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(40);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    /// <summary>curl as a numeric uid (no account needed), from a chosen local port so the capture can tell the two apart.</summary>
    private ExecResult CurlAs(int uid, int localPort) => _testbed.RunInClient(Curl,
        "setpriv", $"--reuid={uid}", $"--regid={uid}", "--clear-groups",
        "curl", "-sS", "--max-time", "15", "--local-port", localPort.ToString(System.Globalization.CultureInfo.InvariantCulture), EngineConfigs.ServerUrl());

    [Fact]
    public void ExcludedUid_NeverCrossesTheTun_ButReachesTheServer_WhileAnotherUidIsCaptured()
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun(extraTun: $""", "exclude_uid": [{ExcludedUid}]""")).WaitStarted();
        using var capture = new TunCapture(_testbed, $"tcp port {ExcludedPort} or tcp port {OtherPort}");

        // Positive control first: the other user's flow enters the TUN, and the capture sees it live.
        var before = LaneCounters.Of(_testbed.Client);
        var other = CurlAs(OtherUid, OtherPort);
        Assert.True(other.Ok, other + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.ClientV4, other.Stdout.Trim());
        var otherMoved = LaneCounters.Of(_testbed.Client) - before;
        Assert.True(otherMoved.Packets >= 5, $"the control flow moved only {otherMoved.Packets} packets across sluice0");
        capture.WaitSeen(OtherPort);

        before = LaneCounters.Of(_testbed.Client);
        var excluded = CurlAs(ExcludedUid, ExcludedPort);
        var excludedMoved = LaneCounters.Of(_testbed.Client) - before;

        // The excluded user still reaches the server, by the main table (its own address, no engine).
        Assert.True(excluded.Ok, excluded + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.ClientV4, excluded.Stdout.Trim());
        Assert.Equal(0, excludedMoved.Packets);
        Assert.Equal(0, capture.Count($"tcp.port == {ExcludedPort}"));
        Assert.True(capture.Count($"tcp.port == {OtherPort}") >= 5, "the capture lost the control flow");
        Assert.DoesNotContain(engine.Lines, l => l.Contains($":{ExcludedPort} ", StringComparison.Ordinal));
        Assert.Contains(engine.Lines, l => l.Contains($":{OtherPort} ", StringComparison.Ordinal) && l.Contains("=> direct", StringComparison.Ordinal));
    }

    [Fact]
    public void IncludeUid_OnlyThatUserEntersTheTun()
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun(extraTun: $""", "include_uid": {OtherUid}""")).WaitStarted();

        var before = LaneCounters.Of(_testbed.Client);
        var outsider = CurlAs(ExcludedUid, ExcludedPort);
        var outsiderMoved = LaneCounters.Of(_testbed.Client) - before;
        var member = CurlAs(OtherUid, OtherPort);

        Assert.True(outsider.Ok, outsider + "\n" + engine.Log);
        Assert.True(member.Ok, member + "\n" + engine.Log);
        Assert.Equal(0, outsiderMoved.Packets);
        Assert.True(engine.WaitFor($":{OtherPort} ", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.DoesNotContain(engine.Lines, l => l.Contains($":{ExcludedPort} ", StringComparison.Ordinal));
    }

    public void Dispose() => _testbed.Dispose();

    /// <summary>tshark on sluice0 in the client namespace, written to a file and printed live.</summary>
    private sealed class TunCapture : IDisposable
    {
        private readonly Process _tshark;
        private readonly List<string> _live = [];
        private readonly string _file;

        public TunCapture(NamespaceTestbed testbed, string bpf)
        {
            _file = Path.Combine(testbed.WorkDir, $"tun-{Guid.NewGuid():N}.pcapng");
            _tshark = testbed.StartIn(testbed.Client, ["tshark", "-i", "sluice0", "-f", bpf, "-w", _file, "-P", "-l"]);
            bool capturing = false;
            _tshark.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("Capturing on", StringComparison.Ordinal) == true) capturing = true; };
            _tshark.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_live) _live.Add(e.Data); };
            _tshark.BeginErrorReadLine();
            _tshark.BeginOutputReadLine();
            var clock = Stopwatch.StartNew();
            while (!capturing)
            {
                if (_tshark.HasExited || clock.Elapsed > TimeSpan.FromSeconds(30))
                    throw new InvalidOperationException("tshark on sluice0 did not start capturing (apt-get install tshark)");
                Thread.Sleep(100);
            }
            Thread.Sleep(300);
        }

        /// <summary>The capture is trusted only once it has shown a packet of the control flow live.</summary>
        public void WaitSeen(int port)
        {
            string text = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var clock = Stopwatch.StartNew();
            while (true)
            {
                lock (_live) if (_live.Any(l => l.Contains(text, StringComparison.Ordinal))) return;
                if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new InvalidOperationException("tshark on sluice0 never showed the control flow live");
                Thread.Sleep(100);
            }
        }

        public int Count(string filter)
        {
            Stop();
            var result = Exec.Run(TimeSpan.FromSeconds(60), "tshark", "-r", _file, "-Y", filter, "-T", "fields", "-e", "frame.number");
            if (!result.Ok) throw new InvalidOperationException($"tshark -r {_file} -Y \"{filter}\" failed: {result.Stderr}");
            return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        }

        private void Stop()
        {
            if (_tshark.HasExited) return;
            Exec.Signal(_tshark, Exec.SigInt);
            if (!_tshark.WaitForExit(10_000)) throw new InvalidOperationException("tshark did not stop within 10 s");
        }

        public void Dispose()
        {
            try
            {
                Stop();
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
