using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A peer's "reserved" bytes (sing-box's field; Cloudflare WARP reads them as the client id) against Debian's
/// wireguard-go behind a relay that plays WARP's front: it counts every datagram from Sluice whose bytes 1..3 are
/// not the configured ones, clears them (wireguard-go, like the protocol, wants zeros) and forwards; its answers go
/// back to Sluice stamped with other bytes, which Sluice must clear before it checks them. A fetch through the
/// tunnel proves both directions; the relay's count proves every datagram carried the bytes.
/// </summary>
public sealed class WireGuardReservedTests : IDisposable
{
    private const int RelayPort = 51821;
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    private const string Relay = """
        import os, select, socket, sys
        port, target, want, report = int(sys.argv[1]), int(sys.argv[2]), bytes(int(b) for b in sys.argv[3].split(',')), sys.argv[4]
        front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); front.bind(('0.0.0.0', port))
        back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); back.bind((sys.argv[5], 0))
        client, good, bad = None, 0, 0
        while True:
            ready, _, _ = select.select([front, back], [], [])
            if front in ready:
                data, client = front.recvfrom(65535)
                if data[1:4] == want: good += 1
                else: bad += 1
                back.sendto(data[:1] + b'\0\0\0' + data[4:], (sys.argv[5], target))
                with open(report + '.tmp', 'w') as f: f.write(f'good={good} bad={bad}')
                os.replace(report + '.tmp', report)  # a reader never sees it half written
            if back in ready:
                data, _ = back.recvfrom(65535)
                if client: front.sendto(data[:1] + b'\x07\x08\x09' + data[4:], client)
        """;

    [Fact]
    public void ReservedBytes_RideOnEveryDatagram_AndTheTunnelCarriesTraffic()
    {
        var keys = WireGuardGoPeer.GenerateKeys();
        var peer = WireGuardGoPeer.Start(_testbed, keys.Public);
        string relay = Path.Combine(_testbed.WorkDir, "warp-relay.py");
        File.WriteAllText(relay, Relay);
        string report = Path.Combine(_testbed.WorkDir, "warp-relay.count");
        _testbed.StartIn(_testbed.Router, "python3", relay, RelayPort.ToString(), WireGuardGoPeer.ListenPort.ToString(), "1,2,3", report, NamespaceTestbed.RouterV4);
        string config = peer.SluiceConfig(keys.Private, $$"""{"ip_cidr": ["{{NamespaceTestbed.ServerV4}}/32"], "outbound": "wg"}""")
            .Replace($"\"port\": {WireGuardGoPeer.ListenPort},", $"\"port\": {RelayPort}, \"reserved\": [1, 2, 3],", StringComparison.Ordinal);
        var engine = _testbed.StartEngine(config).WaitStarted();

        var result = _testbed.RunInClient(TimeSpan.FromSeconds(60), "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, result.Stdout.Trim());
        // Every datagram Sluice sent (initiation, transport, keepalive) carried the bytes; wireguard-go completed the handshake.
        string counts = File.ReadAllText(report);
        Assert.EndsWith(" bad=0", counts);
        Assert.DoesNotContain("good=0 ", counts);
        Assert.NotEqual("0", peer.Show("latest-handshakes").Split('\t').Last().Trim());
    }

    public void Dispose() => _testbed.Dispose();
}
