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
/// 3. a new flow whose rules wait for its process is parked (<see cref="OwnerLookups"/>); when the answer comes,
///    its packet is handled again here, under the same gate as a batch, so no stage sees two threads at once.
/// Rewrites happen in place in the batch slot and the packet is written straight back. A TCP packet the TUN
/// handed over with its checksum still partial stays so through the NAT (a rewrite of the pseudo-header sum,
/// written back partial: no pass over its bytes here or in the kernel); one that goes anywhere else (an L3
/// lane, a new flow's SYN) is completed first.
/// </summary>
internal sealed partial class PacketLoop
{
    private readonly ITunDevice _tun;
    private readonly TcpNatPath _tcp;
    private readonly UdpSessions _udp;
    private readonly IcmpPath _icmp;
    private readonly L3Lanes _l3;
    private readonly TunInbound _inbound;
    private readonly ILogger _logger;
    private readonly EngineLimits _limits;
    private readonly TimeProvider _time;
    private readonly byte[] _scratch = GC.AllocateUninitializedArray<byte>(2048, pinned: true);
    // Held while a batch or a readmission is handled: the packet thread and the owner-lookup worker take turns.
    private readonly object _gate = new();
    private PacketBatch? _readmit;
    private Thread? _thread;
    private volatile bool _stopping;

    public PacketLoop(ITunDevice tun, TcpNatPath tcp, UdpSessions udp, IcmpPath icmp, L3Lanes l3, TunInbound inbound,
        ILogger logger, EngineLimits limits, TimeProvider time)
    {
        (_tun, _tcp, _udp, _icmp, _l3, _inbound, _logger, _limits, _time) =
            (tun, tcp, udp, icmp, l3, inbound, logger, limits, time);
        if (inbound.Owners is { } owners) owners.Answered = () => Readmit(time.Milliseconds());
    }

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
        var batch = PacketBatch.Within(_limits.TunBatch, _limits.TunBatchBytes, Math.Max(_tun.Mtu, 1500) + 64);
        batch.KeepsPartialChecksums = true;
        while (!_stopping)
        {
            int count;
            try
            {
                count = _tun.ReadBatch(batch);
            }
            catch (Exception e)
            {
                // A read that fails because the engine is stopping ends the loop; this thread must never throw, as an
                // exception escaping a thread ends the whole process (an embedding app's with it).
                if (_stopping) break;
                LogReadFailed(_logger, e.Message);
                Thread.Sleep(100);
                continue;
            }
            if (count == 0) break;
            batch.Count = count;
            try
            {
                Process(batch, _time.Milliseconds());
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogBatchFailed(_logger, e.GetType().Name, e.Message); // a lane's flush or the sweeper's wake-up
            }
        }
    }

    /// <summary>
    /// Handles one batch read from the TUN (<see cref="PacketBatch.Count"/> packets) at time
    /// <paramref name="now"/> (milliseconds of the engine's clock), then flushes the L3 lanes it fed.
    /// The packet thread calls it per read; a test calls it directly, with a fake TUN and clock.
    /// </summary>
    public void Process(PacketBatch batch, long now)
    {
        lock (_gate)
        {
            TakeAnswers(now);
            int count = batch.Count;
            for (int i = 0; i < count; i++) HandleSafely(batch.Slot(i), PacketBatch.Headroom, batch.Length(i), now, checksumStart: batch.ChecksumStart(i));
            _l3.Flush();
            Packets += count;
        }
        BatchHandled?.Invoke(now);
    }

    /// <summary>Handles again the first packets of flows whose process is now known (on the worker, when the packet thread is not in a batch).</summary>
    private void Readmit(long now)
    {
        lock (_gate)
        {
            if (_stopping) return; // the stages it would feed are being stopped
            TakeAnswers(now);
            _l3.Flush();
        }
        BatchHandled?.Invoke(now); // readmitted flows are new flows: the sweeper may need to wake for them
    }

    private void TakeAnswers(long now)
    {
        if (_inbound.Owners is not { } owners) return;
        while (owners.TryTakeAnswer(out var answer, out var packet))
        {
            // Parked packets came off the TUN, but its MTU may have grown since: the slot always fits the packet.
            if (_readmit is null || _readmit.SlotForRead(0).Length < packet.Length)
                _readmit = new PacketBatch(1, Math.Max(Math.Max(_tun.Mtu, 1500), packet.Length) + 64);
            packet.CopyTo(_readmit.SlotForRead(0));
            HandleSafely(_readmit.Slot(0), PacketBatch.Headroom, packet.Length, now, answer);
        }
    }

    private void HandleSafely(Span<byte> slot, int offset, int length, long now, OwnerAnswer? answer = null, int checksumStart = 0)
    {
        try
        {
            Handle(slot, offset, length, now, answer, checksumStart);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // One bad packet must never stop the packet path.
            LogPacketFailed(_logger, e.GetType().Name, e.Message);
        }
    }

    /// <param name="checksumStart">Where a partial TCP checksum's sum starts, or 0 when the packet's checksums are complete.</param>
    private void Handle(Span<byte> slot, int offset, int length, long now, OwnerAnswer? answer, int checksumStart)
    {
        if (!IpPacket.TryParse(slot.Slice(offset, length), out var packet) || (packet.IsFragment && !packet.IsFirstFragment)) return;
        if (checksumStart != 0 && packet.Protocol != IpProtocol.Tcp)
        {
            PartialChecksum.Complete(packet.Buffer, checksumStart); // a device marks TCP only; anything else is completed
            checksumStart = 0;
        }
        if (_l3.TryForward(packet, slot, offset, length, checksumStart)) return;
        switch (packet.Protocol)
        {
            case IpProtocol.Tcp:
                _tcp.Handle(packet, slot, offset, now, _scratch, answer, checksumStart);
                break;
            case IpProtocol.Udp:
                if (!FlowKeys.TryGetFlowKey(packet, out var udpKey) || _inbound.IsOwnAddress(udpKey.Destination)) return;
                if (!UdpDatagram.TryParse(packet.Payload, out var datagram)) return;
                if (_udp.TryForward(packet, udpKey, datagram.Payload, _scratch)) return;
                var flow = _inbound.NewFlow(udpKey, answer);
                var choice = _inbound.ChooseAtFirstPacket(flow, datagram.Payload);
                if (_inbound.Parked(flow, packet.Buffer)) return;
                if (_l3.TryOpen(choice, packet, udpKey, flow, slot, offset, _scratch)) return;
                _udp.Open(packet, udpKey, flow, choice, datagram.Payload, _scratch);
                break;
            case IpProtocol.Icmp:
            case IpProtocol.IcmpV6:
                if (!FlowKeys.TryGetFlowKey(packet, out var icmpKey) || _inbound.IsOwnAddress(icmpKey.Destination)) return;
                _icmp.Handle(packet, icmpKey, slot, offset, now, _scratch, answer);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "TUN read failed: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "packet dropped after {Error}: {Reason}")]
    private static partial void LogPacketFailed(ILogger logger, string error, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a batch of packets was cut short by {Error}: {Reason}")]
    private static partial void LogBatchFailed(ILogger logger, string error, string reason);
}
