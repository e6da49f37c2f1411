using Microsoft.Extensions.Logging;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// TCP on the packet thread, per address family a <see cref="TcpNat"/>:
/// 1. the kernel's answers from the relay listener are rewritten back to the app's original flow;
/// 2. an app segment of a known flow is rewritten towards the listener;
/// 3. a new SYN is routed first (or waits for its process, <see cref="TunInbound.Parked"/>): an L3 lane takes the flow, a refusal gets a RST, a drop nothing, the rest a NAT entry;
/// 4. a segment without state (engine restarted, entry expired) gets a RST.
/// </summary>
internal sealed partial class TcpNatPath(ITunDevice tun, TcpNat? nat4, TcpNat? nat6, TunInbound inbound, L3Lanes l3, ILogger logger)
{
    /// <param name="checksumStart">Where the packet's partial TCP checksum starts (it is then rewritten and written partial), or 0 when complete.</param>
    public void Handle(in IpPacket packet, Span<byte> slot, int offset, long now, Span<byte> scratch, OwnerAnswer? answer = null, int checksumStart = 0)
    {
        if (!TcpSegment.TryParse(packet.Payload, out var segment)) return;
        var nat = packet.IsV4 ? nat4 : nat6;
        if (nat is null) return;
        var source = packet.Source;
        var destination = packet.Destination;

        if (nat.IsFromListener(source, segment.SourcePort, destination))
        {
            var back = nat.FindByPort(segment.DestinationPort);
            if (back is null) return;
            back.LastSeen = now;
            var original = back.Original;
            Forward(packet.Buffer, original.Destination, original.DestinationPort, original.Source, original.SourcePort, checksumStart);
            return;
        }

        var key = new FlowKey(IpProtocol.Tcp, source, segment.SourcePort, destination, segment.DestinationPort);
        if (inbound.IsOwnAddress(destination)) return;
        var entry = nat.Find(key);
        if (entry is not null && IsNewConnectionOnAReusedTuple(entry, segment))
        {
            // The app reused the 4-tuple (TIME_WAIT reuse) while the old flow's entry lingers: the old entry must not
            // carry it (its NAT port meets a closing socket on the listener), so it is forgotten and the SYN is new.
            nat.Remove(entry);
            entry = null;
        }
        if (entry is null)
        {
            // A new flow's packet may be parked, handed to an L3 lane or answered: whole from here on (a SYN, small).
            if (checksumStart != 0) PartialChecksum.Complete(packet.Buffer, checksumStart);
            checksumStart = 0;
            var flags = segment.Flags;
            if ((flags & TcpFlags.Rst) != 0) return;
            if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) != TcpFlags.Syn)
            {
                // Not a new connection and no state for it (engine restarted, entry expired): tell the app.
                Refusals.Reset(tun, scratch, packet);
                return;
            }
            var flow = inbound.NewFlow(key, answer);
            var choice = inbound.Choose(flow, stopAtResolve: true);
            if (inbound.Parked(flow, packet.Buffer)) return;
            if (l3.TryOpen(choice, packet, key, flow, slot, offset, scratch)) return;
            if (choice.Kind is LaneKind.Reject or LaneKind.Drop)
            {
                inbound.Admission.Refused(flow, choice);
                if (choice.Kind == LaneKind.Reject) Refusals.Reset(tun, scratch, packet);
                return;
            }
            // A sniff verdict is kept too: the relay sniffs the first payload, then decides from the next rule
            // (deciding again from the first would skip the sniff rule, which the flow already matched).
            entry = nat.Add(key, flow, choice.Decision, now, segment.SequenceNumber);
            if (entry is null)
            {
                LogNatFull(logger, key.ToString());
                Refusals.Reset(tun, scratch, packet);
                return;
            }
        }
        entry.LastSeen = now;
        Forward(packet.Buffer, nat.NatAddress, entry.NatPort, nat.TunAddress, nat.ListenPort, checksumStart);
    }

    /// <summary>Rewrites the packet's addresses and ports and writes it back to the kernel, its checksum left partial if it came so.</summary>
    private void Forward(Span<byte> buffer, NetAddress source, ushort sourcePort, NetAddress destination, ushort destinationPort, int checksumStart)
    {
        PacketRewriter.RewriteTcpUdp(buffer, source, sourcePort, destination, destinationPort, checksumPending: checksumStart != 0);
        if (checksumStart != 0) tun.WriteChecksumPending(buffer, checksumStart);
        else tun.Write(buffer);
    }

    /// <summary>
    /// A SYN without ACK whose sequence number is not the one that opened the entry, on an entry the relay already
    /// took: a new connection on the same 4-tuple, not a retransmission (the kernel accepts only after the app's ACK,
    /// so the app got its SYN-ACK and has no reason to resend that SYN).
    /// </summary>
    private static bool IsNewConnectionOnAReusedTuple(TcpNatEntry entry, in TcpSegment segment) =>
        (segment.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) == TcpFlags.Syn
        && (entry.Accepted || entry.ClosedAt is not null)
        && segment.SequenceNumber != entry.SynSequence;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: all NAT ports in use; connection reset")]
    private static partial void LogNatFull(ILogger logger, string flow);
}
