using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// An L3 lane that keeps what it is given instead of encrypting it (WireGuard's place in the packet path,
/// without peers): the packets sent per flow, and the flows the packet loop told it to forget.
/// </summary>
internal sealed class RecordingLane(string tag, Func<long> now) : IOutbound, IPacketLane
{
    public List<byte[]> Sent { get; } = [];

    public List<L3Flow> Forgotten { get; } = [];

    public string Tag => tag;

    public string Type => "recording-lane";

    public List<L3Flow> Opened { get; } = [];

    public L3Flow? Open(in FlowKey appKey, NetAddress? realDestination = null)
    {
        var flow = new L3Flow(appKey, appKey with { Destination = realDestination ?? appKey.Destination }, this, now());
        Opened.Add(flow);
        return flow;
    }

    /// <summary>A packet of the flow arrives from the peer, as WireGuard's receive path notes it before the app gets it.</summary>
    public void Receive(L3Flow flow, byte[] packet)
    {
        if (!IpPacket.TryParse(packet, out var ip)) throw new ArgumentException("not an IP packet", nameof(packet));
        flow.LastSeen = now();
        flow.NoteTcp(ip, fromApp: false);
    }

    public void Send(L3Flow flow, Span<byte> slot, int offset, int length)
    {
        flow.LastSeen = now();
        Sent.Add(slot.Slice(offset, length).ToArray());
    }

    public void Flush()
    {
    }

    public void Forget(L3Flow flow) => Forgotten.Add(flow);

    public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken) =>
        throw new NotSupportedException("an L3 lane carries packets, not streams");

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) =>
        throw new NotSupportedException("an L3 lane carries packets, not datagrams");

    public void Dispose()
    {
    }
}
