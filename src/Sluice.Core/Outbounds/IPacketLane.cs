using Sluice.Packets;

namespace Sluice.Core.Outbounds;

/// <summary>
/// An L3 lane (WireGuard): it carries a flow's IP packets themselves, so every IP protocol works and
/// the app's TCP talks end to end. The packet thread hands it packets in batch slots with headroom and
/// tailroom, so the lane can rewrite, prepend and append in place.
/// </summary>
public interface IPacketLane
{
    string Tag { get; }

    /// <summary>Registers a new flow of an app; null when the lane cannot carry it (e.g. no tunnel address of that family).</summary>
    L3Flow? Open(in FlowKey appKey);

    /// <summary>
    /// Sends one packet of an open flow. The packet is at <c>slot[offset..offset+length]</c>; at least
    /// 64 bytes before and 32 after it are free. Called on the packet thread only.
    /// </summary>
    void Send(L3Flow flow, Span<byte> slot, int offset, int length);

    /// <summary>Forgets a flow the packet thread expired.</summary>
    void Forget(L3Flow flow);
}

/// <summary>One app flow on an L3 lane: its key on the TUN side and on the tunnel side (after SNAT).</summary>
public sealed class L3Flow(FlowKey appKey, FlowKey tunnelKey, IPacketLane lane)
{
    public FlowKey AppKey { get; } = appKey;

    public FlowKey TunnelKey { get; } = tunnelKey;

    public IPacketLane Lane { get; } = lane;

    /// <summary>Environment.TickCount64 of the last packet either way.</summary>
    public long LastSeen = Environment.TickCount64;
}
