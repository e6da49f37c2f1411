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

    /// <summary>
    /// Registers a new flow of an app; null when the lane cannot carry it (e.g. no tunnel address of
    /// that family). <paramref name="realDestination"/> replaces a fake IP the app used (fakeip DNS).
    /// </summary>
    L3Flow? Open(in FlowKey appKey, NetAddress? realDestination = null);

    /// <summary>
    /// Sends one packet of an open flow. The packet is at <c>slot[offset..offset+length]</c>; at least
    /// 64 bytes before and 32 after it are free. The slot is pinned memory that stays valid and untouched
    /// until the next <see cref="Flush"/>, so the lane may leave its datagram there and send it later.
    /// Called on the packet thread only.
    /// </summary>
    void Send(L3Flow flow, Span<byte> slot, int offset, int length);

    /// <summary>
    /// The end of a batch: sends whatever <see cref="Send"/> left queued. The packet thread calls it after
    /// every TUN batch in which it called Send, before it reuses the slots.
    /// </summary>
    void Flush();

    /// <summary>Forgets a flow the packet thread expired.</summary>
    void Forget(L3Flow flow);
}

/// <summary>One app flow on an L3 lane: its key on the TUN side and on the tunnel side (after SNAT).</summary>
public sealed class L3Flow(FlowKey appKey, FlowKey tunnelKey, IPacketLane lane, long now)
{
    public FlowKey AppKey { get; } = appKey;

    public FlowKey TunnelKey { get; } = tunnelKey;

    public IPacketLane Lane { get; } = lane;

    /// <summary>Milliseconds of the engine's clock at the last packet either way.</summary>
    public long LastSeen = now;

    /// <summary>The flow's entry in the connection registry (byte counters), when it has one.</summary>
    public Monitoring.TrackedConnection? Connection { get; set; }

    private const int FinFromApp = 1, FinFromPeer = 2, Reset = 4;
    private int _tcpEnd;

    /// <summary>
    /// A TCP flow that has ended: a FIN seen each way, or a RST either way. The sweep forgets it
    /// <see cref="EngineLimits.L3TcpClosedGrace"/> after its last packet, not <see cref="EngineLimits.L3TcpIdle"/>.
    /// </summary>
    public bool TcpEnded
    {
        get
        {
            int end = Volatile.Read(ref _tcpEnd);
            return (end & Reset) != 0 || (end & (FinFromApp | FinFromPeer)) == (FinFromApp | FinFromPeer);
        }
    }

    /// <summary>
    /// Notes the teardown of a TCP packet of this flow: from the app on the packet thread, from the peer on the lane's
    /// receive thread (hence the interlocked bits). A SYN (the tuple reused for a new connection) makes the flow live
    /// again. Other packets cost a header parse and a flag test.
    /// </summary>
    public void NoteTcp(in IpPacket packet, bool fromApp)
    {
        if (packet.Protocol != IpProtocol.Tcp || !packet.HasTransportHeader || !TcpSegment.TryParse(packet.Payload, out var tcp)) return;
        var flags = tcp.Flags;
        if ((flags & (TcpFlags.Fin | TcpFlags.Rst | TcpFlags.Syn)) == 0) return;
        if ((flags & TcpFlags.Rst) != 0) Interlocked.Or(ref _tcpEnd, Reset);
        else if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn) Volatile.Write(ref _tcpEnd, 0);
        else if ((flags & TcpFlags.Fin) != 0) Interlocked.Or(ref _tcpEnd, fromApp ? FinFromApp : FinFromPeer);
    }
}

/// <summary>
/// What an L3 lane needs to originate the engine's own flows into itself: the TUN's name and
/// addresses, and the packet loop's pin table (a pinned flow is carried by the lane from its first packet).
/// </summary>
public sealed record TunAttachment(string TunName, NetAddress? TunV4, NetAddress? TunV6, Action<FlowKey, L3Flow> Pin, Action<FlowKey> Unpin);

/// <summary>A stream over a socket whose flow is pinned to a lane; disposing it unpins the flow.</summary>
internal sealed class PinnedStream(System.Net.Sockets.Socket socket, Action unpin) : System.Net.Sockets.NetworkStream(socket, ownsSocket: true)
{
    private int _disposed;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (Interlocked.Exchange(ref _disposed, 1) == 0) unpin();
    }
}

/// <summary>A UDP channel whose flow is pinned to a lane; disposing it unpins the flow.</summary>
internal sealed class PinnedUdpChannel(IUdpChannel inner, Action unpin) : IUdpChannel
{
    private int _disposed;

    public void Send(ReadOnlySpan<byte> payload) => inner.Send(payload);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) => inner.ReceiveAsync(buffer, cancellationToken);

    public void Dispose()
    {
        inner.Dispose();
        if (Interlocked.Exchange(ref _disposed, 1) == 0) unpin();
    }
}
