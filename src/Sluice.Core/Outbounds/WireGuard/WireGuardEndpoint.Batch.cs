using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sluice.Core.Tun;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// Batched datagram I/O (when the platform has <see cref="IDatagramBatchIo"/>):
/// 1. send: <see cref="IPacketLane.Send"/> leaves each encrypted datagram in its batch slot and notes
///    where it is; <see cref="Flush"/>, at the end of the TUN batch, hands the runs to one peer to one
///    batched send (the slots are pinned and untouched until then);
/// 2. receive: one receive returns several messages, each possibly a train of one sender's datagrams
///    (UDP GRO); each datagram is decrypted in place where it lies, and the batch's packets go to the TUN
///    with one <see cref="ITunDevice.WriteBatch"/> (which merges a TCP flow's segments where it can).
/// Without batch I/O the lane sends at once and receives one datagram per call.
/// </summary>
public sealed partial class WireGuardEndpoint
{
    /// <summary>Datagrams queued between flushes; the packet loop's batch is smaller, so this only bounds a misuse.</summary>
    private const int MaxQueued = 256;

    /// <summary>Messages per batched receive; each holds up to 64 KiB (a GRO train of ~45 full datagrams).</summary>
    private const int ReceiveMessages = 8;

    private readonly nint[] _queuedAddresses = new nint[MaxQueued];
    private readonly int[] _queuedLengths = new int[MaxQueued];
    private readonly IPEndPoint?[] _queuedDestinations = new IPEndPoint?[MaxQueued];
    private int _queued;

    // Receive thread only: decrypted packets of the current receive batch, written to the TUN together.
    private readonly PacketRange[] _tunQueue = new PacketRange[ReceiveMessages * 64];
    private byte[]? _tunQueueBuffer;
    private int _tunQueued;

    private void QueueForTun(int offset, int length)
    {
        if (_tunQueued == _tunQueue.Length) FlushTun();
        _tunQueue[_tunQueued++] = new PacketRange(offset, length);
    }

    private void FlushTun()
    {
        int count = _tunQueued;
        if (count == 0) return;
        _tunQueued = 0;
        _tun!.WriteBatch(_tunQueueBuffer, _tunQueue.AsSpan(0, count));
    }

    /// <summary>Queues the datagram result describes (inside <paramref name="slot"/>, pinned); sends it at once without batch I/O.</summary>
    private unsafe void QueueDatagram(Span<byte> slot, in WgResult result)
    {
        if (_batchIo is null || result.Destination is null)
        {
            SendDatagram(slot, result);
            return;
        }
        if (_queued == MaxQueued) Flush();
        StampReserved(slot.Slice(result.Offset, result.Length), result.Peer);
        _queuedAddresses[_queued] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(slot)) + result.Offset;
        _queuedLengths[_queued] = result.Length;
        _queuedDestinations[_queued] = result.Destination;
        _queued++;
    }

    /// <summary>Sends the datagrams <see cref="Send"/> queued, one batched send per run to the same peer endpoint.</summary>
    public void Flush()
    {
        int count = _queued;
        if (count == 0) return;
        _queued = 0;
        var io = _batchIo;
        for (int start = 0, end; start < count; start = end)
        {
            var destination = _queuedDestinations[start]!;
            for (end = start + 1; end < count && ReferenceEquals(_queuedDestinations[end], destination); end++) { }
            if (io is null || _stopping) continue;
            try
            {
                io.Send(_queuedAddresses.AsSpan(start, end - start), _queuedLengths.AsSpan(start, end - start), ToSocketAddress(destination));
            }
            catch (IOException e)
            {
                _warnings.Warn($"send to {destination} failed: {e.Message}");
            }
            catch (ObjectDisposedException)
            {
            }
        }
        Array.Clear(_queuedDestinations, 0, count);
    }

    private void ReceiveBatches(IDatagramBatchIo io)
    {
        var batch = new DatagramBatch(ReceiveMessages, _socket!.AddressFamily);
        _tunQueueBuffer = batch.Buffer;
        byte[] drainBuffer = GC.AllocateUninitializedArray<byte>(ReceiveHeadroom + 65536 + 64, pinned: true);
        SocketAddress? lastFrom = null;
        IPEndPoint? lastEndpoint = null;
        while (!_stopping)
        {
            int count;
            try
            {
                count = io.Receive(batch);
            }
            catch (Exception) when (_stopping)
            {
                return;
            }
            catch (IOException e)
            {
                _warnings.Warn($"receive failed: {e.Message}");
                Thread.Sleep(10);
                continue;
            }
            if (count == 0) return;
            for (int m = 0; m < count; m++)
            {
                var endpoint = Sender(batch.Source(m), ref lastFrom, ref lastEndpoint);
                int offset = batch.DataOffset(m), length = batch.Length(m), segment = batch.SegmentSize(m);
                for (int at = 0; at < length; at += segment)
                    HandleDatagram(batch.Buffer, offset + at, Math.Min(segment, length - at), endpoint, drainBuffer);
            }
            FlushTun();
        }
    }
}
