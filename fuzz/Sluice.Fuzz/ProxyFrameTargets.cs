using Sluice.Core.Outbounds.Fuzzing;

namespace Sluice.Fuzz;

/// <summary>Decoders of what Trojan, VLESS and WebSocket servers send (bodies in Sluice.Core so tests can run them).</summary>
public static class ProxyFrameTargets
{
    public static void VlessResponse(ReadOnlySpan<byte> data) => ProxyFrameFuzzTargets.VlessResponse(data);

    public static void TrojanUdp(ReadOnlySpan<byte> data) => ProxyFrameFuzzTargets.TrojanUdpFrames(data);

    public static void Xudp(ReadOnlySpan<byte> data) => ProxyFrameFuzzTargets.XudpFrames(data);

    public static void WebSocket(ReadOnlySpan<byte> data) => ProxyFrameFuzzTargets.WebSocketFrames(data);
}
