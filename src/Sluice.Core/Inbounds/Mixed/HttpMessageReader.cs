using System.Buffers;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// Reads HTTP/1.x messages from one direction of a connection: a head at a time (however the peer split it
/// across writes, and with whatever followed it in the same write kept for the next read), then its body copied
/// on by its framing, one write per read. Holds one pooled buffer of <see cref="Capacity"/> bytes, the longest
/// head it takes.
/// </summary>
internal sealed class HttpMessageReader(Stream stream) : IDisposable
{
    /// <summary>The longest head taken (64 KiB; nginx's default limit is 8 KiB per line, 32 KiB in all).</summary>
    public const int Capacity = 64 * 1024;

    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(Capacity);
    private int _start;
    private int _end;

    private byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(HttpMessageReader));

    /// <summary>What was read and not yet taken.</summary>
    public ReadOnlyMemory<byte> Buffered => Buffer.AsMemory(_start, _end - _start);

    /// <summary>Adds bytes read elsewhere (the inbound's first receive) ahead of what the stream brings.</summary>
    public void Seed(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Buffer.AsSpan(_end));
        _end += bytes.Length;
    }

    public void Consume(int count) => _start += count;

    /// <summary>Waits until at least one byte is buffered; false at the end of the stream.</summary>
    public async ValueTask<bool> FillAsync(CancellationToken ct)
    {
        if (_end > _start) return true;
        _start = _end = 0;
        int n = await stream.ReadAsync(Buffer, ct);
        _end = n;
        return n > 0;
    }

    /// <summary>
    /// Reads until a whole head is buffered (at <see cref="Buffered"/>'s start) and returns its length, its empty
    /// line included; 0 when the stream ends before the head's first byte.
    /// </summary>
    /// <exception cref="HttpMessageException">The head is longer than <see cref="Capacity"/>.</exception>
    /// <exception cref="IOException">The stream ended inside the head.</exception>
    public async ValueTask<int> ReadHeadAsync(CancellationToken ct)
    {
        int searched = 0;
        while (true)
        {
            var span = Buffer.AsSpan(_start, _end - _start);
            for (int lf; (lf = span[searched..].IndexOf((byte)'\n')) >= 0; )
            {
                int at = searched + lf;
                // The head ends at an empty line: LF LF or LF CR LF.
                if (at + 1 < span.Length && span[at + 1] == '\n') return at + 2;
                if (at + 2 < span.Length && span[at + 1] == '\r' && span[at + 2] == '\n') return at + 3;
                if (at + 2 >= span.Length) break; // too few bytes after this LF to tell: read more, look again from it
                searched = at + 1;
            }
            searched = Math.Max(0, span.Length - 2);
            if (span.Length == Capacity) throw new HttpMessageException($"a message head longer than {Capacity / 1024} KiB");
            if (_start > 0)
            {
                span.CopyTo(Buffer);
                _end -= _start;
                _start = 0;
            }
            int n = await stream.ReadAsync(Buffer.AsMemory(_end, Capacity - _end), ct);
            if (n == 0)
            {
                if (_end == _start) return 0;
                throw new IOException("the connection ended inside a message head");
            }
            _end += n;
        }
    }

    /// <summary>
    /// Copies the head of <paramref name="headLength"/> bytes at <see cref="Buffered"/>'s start (none when 0), then
    /// the body <paramref name="body"/> frames, to <paramref name="to"/>; returns false when the stream ended first
    /// (the end of a body that lasts until close, or a peer that went away mid-message).
    /// </summary>
    public async ValueTask<bool> CopyMessageAsync(int headLength, HttpBodyFraming body, Stream to, Action<long> counted, CancellationToken ct)
    {
        int head = headLength;
        while (true)
        {
            int taken = head + body.Take(Buffer.AsSpan(_start + head, _end - _start - head));
            if (taken > 0)
            {
                await to.WriteAsync(Buffer.AsMemory(_start, taken), ct);
                counted(taken);
                _start += taken;
            }
            head = 0;
            if (body.Done) return true;
            _start = _end = 0;
            int n = await stream.ReadAsync(Buffer, ct);
            if (n == 0) return false;
            _end = n;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer) ArrayPool<byte>.Shared.Return(buffer);
    }
}
