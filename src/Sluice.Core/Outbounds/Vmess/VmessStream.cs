using System.Buffers;
using System.Buffers.Binary;

namespace Sluice.Core.Outbounds.Vmess;

/// <summary>
/// A VMess body over the connection that carries the request header and takes the answer header off
/// (a <see cref="RequestStream"/>):
/// 1. writes are cut into chunks (<see cref="VmessChunkCodec"/>) sealed into a buffer rented for the write;
/// 2. reads open chunks straight into the caller's buffer when they fit, else into a rented one handed out
///    over later reads; the input and plaintext buffers are rented while bytes are in flight and returned
///    once drained, so an idle stream holds none;
/// 3. half-close sends the end chunk, then FIN; the server's end chunk (or its FIN between chunks) ends reads.
/// Packet mode (the UDP command) keeps datagram boundaries: each chunk is one datagram. Its callers see
/// datagrams as VLESS-style frames, a 2-byte length then the payload, both ways, so
/// <see cref="StreamDatagramChannel"/> drives it with <see cref="Vless.VlessUdpFraming"/>; each write holds whole frames.
/// One read and one write may run at once; disposal while a read runs returns the buffers when it ends.
/// </summary>
internal sealed class VmessStream : ConnectionStream, IReadinessStream
{
    private const int InputSize = 16 * 1024;
    private const int WriteSlice = 64 * 1024;

    private readonly Stream _inner;
    private readonly VmessChunkCodec _up;
    private readonly VmessChunkCodec _down;
    private readonly bool _packets;
    private readonly string _who;
    private byte[]? _in;
    private byte[]? _plain;
    private int _inStart, _inEnd, _plainStart, _plainEnd;
    private bool _ended;
    private int _reading;
    private int _disposed;

    /// <param name="who">The outbound, for messages.</param>
    public VmessStream(Stream inner, VmessSession session, bool packets, string who)
    {
        _inner = inner;
        _up = session.RequestCodec(packets);
        _down = session.ResponseCodec(packets);
        _packets = packets;
        _who = who;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            byte[] sealing = ArrayPool<byte>.Shared.Rent(Math.Min(WriteSlice, SealedBound(buffer.Span)));
            try
            {
                int used = SealSlice(buffer.Span, sealing, out int taken);
                if (taken == 0) throw new InvalidOperationException("a VMess chunk did not fit its sealing buffer");
                buffer = buffer[taken..];
                if (used > 0) await _inner.WriteAsync(sealing.AsMemory(0, used), cancellationToken);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(sealing);
            }
        }
    }

    /// <summary>The most bytes <paramref name="data"/> takes sealed: its bytes and each chunk's size field, tag and padding.</summary>
    private int SealedBound(ReadOnlySpan<byte> data)
    {
        int chunks = 0;
        if (!_packets) chunks = (data.Length + _up.MaxPayload - 1) / _up.MaxPayload;
        else
        {
            for (int at = 0; at + 2 <= data.Length; at += 2 + BinaryPrimitives.ReadUInt16BigEndian(data[at..])) chunks++;
        }
        return data.Length + chunks * _up.MaxChunkLength(0);
    }

    /// <summary>Seals as much of <paramref name="data"/> as fits in <paramref name="output"/>; returns the sealed bytes, <paramref name="taken"/> the input used.</summary>
    private int SealSlice(ReadOnlySpan<byte> data, Span<byte> output, out int taken)
    {
        int used = 0;
        taken = 0;
        while (taken < data.Length)
        {
            var rest = data[taken..];
            if (_packets)
            {
                if (rest.Length < 2) throw new ArgumentException("a VMess packet write holds whole frames: 2-byte length, payload");
                int length = BinaryPrimitives.ReadUInt16BigEndian(rest);
                if (rest.Length < 2 + length) throw new ArgumentException("a VMess packet write holds whole frames: 2-byte length, payload");
                if (output.Length - used < _up.MaxChunkLength(length) && used > 0) break;
                if (length > 0 && length <= _up.MaxPayload) used += _up.Seal(rest.Slice(2, length), output[used..]); // larger: dropped, as UDP would
                taken += 2 + length;
                continue;
            }
            int take = Math.Min(rest.Length, _up.MaxPayload);
            if (output.Length - used < _up.MaxChunkLength(take)) break;
            used += _up.Seal(rest[..take], output[used..]);
            taken += take;
        }
        return used;
    }

    /// <summary>True when the connection under the chunks waits for bytes without a buffer.</summary>
    public bool WaitsWithoutBuffer => StreamEnds.WaitsWithoutBuffer(_inner);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _reading, 1);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (buffer.IsEmpty)
            {
                // A wait: with nothing decoded or read ahead here, the connection's wait decides (no buffer held).
                if (_plainEnd == _plainStart && _inEnd == _inStart && !_ended && WaitsWithoutBuffer)
                    await StreamEnds.WaitReadableAsync(_inner, cancellationToken);
                return 0;
            }
            int n = await ReadChunkAsync(buffer, cancellationToken);
            if (_inStart == _inEnd)
            {
                Return(ref _in);
                _inStart = _inEnd = 0;
            }
            if (_plainStart == _plainEnd) Return(ref _plain);
            return n;
        }
        finally
        {
            Interlocked.Exchange(ref _reading, 0);
            if (Volatile.Read(ref _disposed) != 0) ReturnAll();
        }
    }

    private async ValueTask<int> ReadChunkAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_plainEnd > _plainStart) return TakePlain(buffer.Span);
        while (!_ended)
        {
            int sizeBytes = _down.SizeBytes;
            if (!await FillAsync(sizeBytes, cancellationToken))
            {
                if (_inEnd == _inStart) return 0; // FIN between chunks: an end without the end chunk
                throw new IOException($"{_who}: the server closed the connection inside a chunk's size");
            }
            int size = _down.ReadSize(_in.AsSpan(_inStart, sizeBytes), out int padding);
            if (size < 0) throw new IOException($"{_who}: a chunk size from the server does not authenticate or is impossible (not VMess, or a different security)");
            if (!await FillAsync(sizeBytes + size, cancellationToken)) throw new IOException($"{_who}: the server closed the connection inside a chunk");
            var body = _in.AsSpan(_inStart + sizeBytes, size);
            int prefix = _packets ? 2 : 0;
            int payload = size - padding - _down.Overhead;
            bool direct = buffer.Length >= prefix + payload;
            if (!direct) _plain = ArrayPool<byte>.Shared.Rent(Math.Max(VmessChunkCodec.MaxChunk + 2, prefix + payload)); // drained, so none is held
            var target = direct ? buffer.Span : _plain;
            if (_down.Open(body, padding, target[prefix..]) < 0) throw new IOException($"{_who}: a chunk from the server does not authenticate");
            _inStart += sizeBytes + size;
            if (payload == 0)
            {
                _ended = true; // the end chunk
                return 0;
            }
            if (_packets) BinaryPrimitives.WriteUInt16BigEndian(target, (ushort)payload);
            if (direct) return prefix + payload;
            _plainStart = 0;
            _plainEnd = prefix + payload;
            return TakePlain(buffer.Span);
        }
        return 0;
    }

    private int TakePlain(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _plainEnd - _plainStart);
        _plain.AsSpan(_plainStart, n).CopyTo(destination);
        _plainStart += n;
        return n;
    }

    /// <summary>Makes at least <paramref name="need"/> bytes available at _inStart; false at end of stream first.</summary>
    private async ValueTask<bool> FillAsync(int need, CancellationToken cancellationToken)
    {
        if (_inEnd - _inStart >= need) return true;
        _in ??= ArrayPool<byte>.Shared.Rent(Math.Max(InputSize, 2 * need));
        if (_in.Length < need)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(2 * need);
            _in.AsSpan(_inStart, _inEnd - _inStart).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_in);
            _in = larger;
            _inEnd -= _inStart;
            _inStart = 0;
        }
        if (_in.Length - _inStart < need)
        {
            _in.AsSpan(_inStart, _inEnd - _inStart).CopyTo(_in);
            _inEnd -= _inStart;
            _inStart = 0;
        }
        while (_inEnd - _inStart < need)
        {
            int n = await _inner.ReadAsync(_in.AsMemory(_inEnd), cancellationToken);
            if (n == 0) return false;
            _inEnd += n;
        }
        return true;
    }

    private static void Return(ref byte[]? buffer)
    {
        var taken = Interlocked.Exchange(ref buffer, null);
        if (taken is not null) ArrayPool<byte>.Shared.Return(taken);
    }

    private void ReturnAll()
    {
        _inStart = _inEnd = _plainStart = _plainEnd = 0;
        Return(ref _in);
        Return(ref _plain);
        _down.Dispose();
    }

    /// <summary>The end chunk, then FIN.</summary>
    public override void ShutdownWrite()
    {
        Span<byte> end = stackalloc byte[_up.MaxChunkLength(0)];
        int n = _up.Seal([], end);
        _inner.Write(end[..n]);
        StreamEnds.ShutdownWrite(_inner);
    }

    public override void Abort() => StreamEnds.Abort(_inner);

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _inner.Dispose();
            _up.Dispose();
            if (Volatile.Read(ref _reading) == 0) ReturnAll();
        }
        base.Dispose(disposing);
    }

}
