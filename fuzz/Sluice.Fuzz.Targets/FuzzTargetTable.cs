namespace Sluice.Fuzz.Targets;

/// <summary>One fuzz input run through one target; throws only when an invariant breaks.</summary>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>
/// Every fuzz target by the name fuzz/run.sh, the SharpFuzz harness and the corpus folders use
/// (fuzz/corpus/NAME/, fuzz/regressions/NAME/). One table, so a target cannot exist in one and not the others.
/// </summary>
public static class FuzzTargetTable
{
    public static IReadOnlyDictionary<string, FuzzTarget> All { get; } = new Dictionary<string, FuzzTarget>(StringComparer.OrdinalIgnoreCase)
    {
        ["packets"] = PacketParserFuzzTarget.Run,
        ["wireguard"] = WireGuardFuzzTarget.Run,
        ["dns"] = DnsFuzzTarget.Run,
        ["tls"] = TlsFuzzTarget.Run,
        ["vision"] = VisionFuzzTarget.Run,
        ["vless-response"] = ProxyFrameFuzzTargets.VlessResponse,
        ["vmess-response"] = VmessFuzzTarget.Run,
        ["trojan-udp"] = ProxyFrameFuzzTargets.TrojanUdpFrames,
        ["xudp"] = ProxyFrameFuzzTargets.XudpFrames,
        ["websocket"] = ProxyFrameFuzzTargets.WebSocketFrames,
        ["gun"] = GunFuzzTarget.Run,
        ["http-proxy"] = HttpProxyFuzzTarget.Run,
        ["obfs"] = ShadowsocksFuzzTarget.RunObfs,
        ["ss2022"] = ShadowsocksFuzzTarget.Run2022,
        ["mrs"] = MrsFuzzTarget.Run,
        ["sniff"] = Sluice.Core.Sniffing.SnifferFuzzTargets.All,
        ["sniff-bittorrent"] = Sluice.Core.Sniffing.SnifferFuzzTargets.BitTorrent,
        ["sniff-ssh"] = Sluice.Core.Sniffing.SnifferFuzzTargets.Ssh,
        ["sniff-rdp"] = Sluice.Core.Sniffing.SnifferFuzzTargets.Rdp,
        ["sniff-stun"] = Sluice.Core.Sniffing.SnifferFuzzTargets.Stun,
        ["sniff-dtls"] = Sluice.Core.Sniffing.SnifferFuzzTargets.Dtls,
        ["sniff-ntp"] = Sluice.Core.Sniffing.SnifferFuzzTargets.Ntp,
        ["sniff-quic"] = Sluice.Core.Sniffing.SnifferFuzzTargets.Quic,
    };
}
