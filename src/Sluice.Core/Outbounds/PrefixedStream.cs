namespace Sluice.Core.Outbounds;

/// <summary>
/// A connection whose first bytes were already read (sniffed on the TUN or a listener, or the part of
/// an HTTP CONNECT answer's segment past its head, e.g. an SSH greeting): reads hand out the first
/// <paramref name="length"/> bytes of <paramref name="first"/>, then read the connection. Writes,
/// half-close and abort go straight to the connection; disposing disposes it.
/// </summary>
internal sealed class PrefixedStream(Stream inner, byte[] first, int length) : ConnectionStream
{
    private int _firstAt;

    public override bool CanRead => inner.CanRead;

    public override bool CanWrite => inner.CanWrite;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _firstAt < length ? ValueTask.FromResult(TakeFirst(buffer.Span)) : inner.ReadAsync(buffer, cancellationToken);

    public override int Read(Span<byte> buffer) => _firstAt < length ? TakeFirst(buffer) : inner.Read(buffer);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    private int TakeFirst(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, length - _firstAt);
        first.AsSpan(_firstAt, n).CopyTo(buffer);
        _firstAt += n;
        return n;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer.AsSpan(offset, count));

    public override void ShutdownWrite() => StreamEnds.ShutdownWrite(inner);

    public override void Abort() => StreamEnds.Abort(inner);

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
