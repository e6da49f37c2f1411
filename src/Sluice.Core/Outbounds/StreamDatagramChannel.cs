using System.Buffers;
using System.Threading.Channels;

namespace Sluice.Core.Outbounds;

/// <summary>
/// How one protocol carries datagrams inside a stream (Trojan's UDP frames, VLESS's length prefix, XUDP).
/// Codecs do no I/O: <see cref="StreamDatagramChannel"/> drives them.
/// </summary>
internal interface IDatagramFraming
{
    /// <summary>The most bytes a frame adds around a payload.</summary>
    int MaxOverhead { get; }

    /// <summary>Writes one frame holding <paramref name="payload"/> into <paramref name="frame"/>; returns its length.</summary>
    int Encode(ReadOnlySpan<byte> payload, Span<byte> frame);

    /// <summary>
    /// Finds the first frame in <paramref name="data"/>: returns the bytes it spans (0 = incomplete, −1 = invalid);
    /// its payload is <c>data[payloadOffset..payloadOffset+payloadLength]</c> (length 0 with a positive
    /// result and <paramref name="skip"/> true: a frame without a datagram for this channel).
    /// </summary>
    int Decode(ReadOnlySpan<byte> data, out int payloadOffset, out int payloadLength, out bool skip);
}

/// <summary>
/// A UDP flow carried as frames in one proxy stream (TCP+TLS to the server):
/// 1. Send (the packet thread) frames the datagram into a pooled buffer and queues it — it never blocks;
///    a full queue drops the datagram as a congested UDP path would;
/// 2. one writer task sends the queued frames in order, several per write when they pile up;
/// 3. ReceiveAsync reads the stream and hands out one payload per call.
/// Disposing closes the stream; a stream error or end makes ReceiveAsync throw an <see cref="OutboundException"/>.
/// </summary>
internal sealed class StreamDatagramChannel : IUdpChannel
{
    private const int QueueLength = 256;
    private const int MaxDatagram = 65535;
    private const int ReadBufferSize = 2 * (MaxDatagram + 512);

    private readonly Stream _stream;
    private readonly IDatagramFraming _framing;
    private readonly Channel<(byte[] Frame, int Length)> _queue =
        Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(QueueLength) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly byte[] _in = new byte[ReadBufferSize];
    private readonly Task _writer;
    private int _start, _end;

    private readonly string _who;

    /// <param name="who">The outbound, for messages ("trojan \"tag\" (host:port)").</param>
    public StreamDatagramChannel(Stream stream, IDatagramFraming framing, string who)
    {
        _who = who;
        _stream = stream;
        _framing = framing;
        _writer = Task.Run(WriteLoopAsync);
    }

    public void Send(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxDatagram - _framing.MaxOverhead) return; // cannot be framed; UDP drops it
        byte[] frame = ArrayPool<byte>.Shared.Rent(payload.Length + _framing.MaxOverhead);
        int length = _framing.Encode(payload, frame);
        if (!_queue.Writer.TryWrite((frame, length))) ArrayPool<byte>.Shared.Return(frame);
    }

    private async Task WriteLoopAsync()
    {
        byte[] batch = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var reader = _queue.Reader;
            while (await reader.WaitToReadAsync())
            {
                int used = 0;
                while (reader.TryPeek(out var next) && (used == 0 || used + next.Length <= batch.Length))
                {
                    reader.TryRead(out var item);
                    if (item.Length > batch.Length)
                    {
                        await _stream.WriteAsync(item.Frame.AsMemory(0, item.Length));
                    }
                    else
                    {
                        item.Frame.AsSpan(0, item.Length).CopyTo(batch.AsSpan(used));
                        used += item.Length;
                    }
                    ArrayPool<byte>.Shared.Return(item.Frame);
                }
                if (used > 0) await _stream.WriteAsync(batch.AsMemory(0, used));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or InvalidOperationException)
        {
            // The stream is gone; ReceiveAsync sees it too and the flow ends.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch);
            while (_queue.Reader.TryRead(out var left)) ArrayPool<byte>.Shared.Return(left.Frame);
        }
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_end > _start)
            {
                int used = _framing.Decode(_in.AsSpan(_start, _end - _start), out int offset, out int length, out bool skip);
                if (used < 0) throw new OutboundException($"{_who}: the server sent a malformed UDP frame");
                if (used > 0)
                {
                    int n = Math.Min(length, buffer.Length);
                    _in.AsSpan(_start + offset, n).CopyTo(buffer.Span);
                    _start += used;
                    if (skip) continue;
                    return n;
                }
            }
            if (_start > 0)
            {
                _in.AsSpan(_start, _end - _start).CopyTo(_in);
                _end -= _start;
                _start = 0;
            }
            if (_end == _in.Length) throw new OutboundException($"{_who}: the server sent a UDP frame larger than 64 KiB");
            int read;
            try
            {
                read = await _stream.ReadAsync(_in.AsMemory(_end), cancellationToken);
            }
            catch (IOException e)
            {
                throw new OutboundException($"{_who}: UDP stream: {e.Message}", e);
            }
            if (read == 0) throw new OutboundException($"{_who}: the server closed the UDP stream");
            _end += read;
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _stream.Dispose();
    }
}
