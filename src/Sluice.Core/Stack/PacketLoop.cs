using Microsoft.Extensions.Logging;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// The packet thread: reads a batch from the TUN, hands each packet to its stage, then flushes the L3 lanes.
/// 1. the packet is parsed once (a view, no copy); a flow on an L3 lane goes there whatever its protocol
///    (<see cref="L3Lanes"/>);
/// 2. TCP goes to the NAT (<see cref="TcpNatPath"/>), UDP to its user-space session (<see cref="UdpSessions"/>,
///    a new flow routed first), ICMP echo to <see cref="IcmpPath"/>; everything else is dropped.
/// Rewrites happen in place in the batch slot and the packet is written straight back.
/// </summary>
internal sealed partial class PacketLoop(ITunDevice tun, TcpNatPath tcp, UdpSessions udp, IcmpPath icmp, L3Lanes l3, TunInbound inbound,
    ILogger logger, EngineLimits limits, TimeProvider time)
{
    private readonly byte[] _scratch = GC.AllocateUninitializedArray<byte>(2048, pinned: true);
    private Thread? _thread;
    private volatile bool _stopping;

    public long Packets { get; private set; }

    /// <summary>Told the engine's time after each batch (new flows may have been made): the engine's sweeper wakes from it.</summary>
    public Action<long>? BatchHandled { get; init; }

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "sluice-tun-read" };
        _thread.Start();
    }

    public void Stop()
    {
        _stopping = true;
        _thread?.Join(TimeSpan.FromSeconds(2));
    }

    private void Run()
    {
        var batch = new PacketBatch(limits.TunBatch, Math.Max(tun.Mtu, 1500) + 64);
        while (!_stopping)
        {
            int count;
            try
            {
                count = tun.ReadBatch(batch);
            }
            catch (Exception e) when (!_stopping)
            {
                LogReadFailed(logger, e.Message);
                Thread.Sleep(100);
                continue;
            }
            if (count == 0) break;
            batch.Count = count;
            Process(batch, time.Milliseconds());
        }
    }

    /// <summary>
    /// Handles one batch read from the TUN (<see cref="PacketBatch.Count"/> packets) at time
    /// <paramref name="now"/> (milliseconds of the engine's clock), then flushes the L3 lanes it fed.
    /// The packet thread calls it per read; a test calls it directly, with a fake TUN and clock.
    /// </summary>
    public void Process(PacketBatch batch, long now)
    {
        int count = batch.Count;
        for (int i = 0; i < count; i++)
        {
            try
            {
                Handle(batch.Slot(i), PacketBatch.Headroom, batch.Length(i), now);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // One bad packet must never stop the packet path.
                LogPacketFailed(logger, e.GetType().Name, e.Message);
            }
        }
        l3.Flush();
        Packets += count;
        BatchHandled?.Invoke(now);
    }

    private void Handle(Span<byte> slot, int offset, int length, long now)
    {
        if (!IpPacket.TryParse(slot.Slice(offset, length), out var packet) || (packet.IsFragment && !packet.IsFirstFragment)) return;
        if (l3.TryForward(packet, slot, offset, length)) return;
        switch (packet.Protocol)
        {
            case IpProtocol.Tcp:
                tcp.Handle(packet, slot, offset, now, _scratch);
                break;
            case IpProtocol.Udp:
                if (!FlowKeys.TryGetFlowKey(packet, out var udpKey) || inbound.IsOwnAddress(udpKey.Destination)) return;
                if (!UdpDatagram.TryParse(packet.Payload, out var datagram)) return;
                if (udp.TryForward(packet, udpKey, datagram.Payload, _scratch)) return;
                var flow = inbound.NewFlow(udpKey);
                var choice = inbound.ChooseAtFirstPacket(flow, datagram.Payload);
                if (l3.TryOpen(choice, packet, udpKey, flow, slot, offset, _scratch)) return;
                udp.Open(packet, udpKey, flow, choice, datagram.Payload, _scratch);
                break;
            case IpProtocol.Icmp:
            case IpProtocol.IcmpV6:
                if (!FlowKeys.TryGetFlowKey(packet, out var icmpKey) || inbound.IsOwnAddress(icmpKey.Destination)) return;
                icmp.Handle(packet, icmpKey, slot, offset, now, _scratch);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "TUN read failed: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "packet dropped after {Error}: {Reason}")]
    private static partial void LogPacketFailed(ILogger logger, string error, string reason);
}
