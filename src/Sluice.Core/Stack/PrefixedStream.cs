namespace Sluice.Core.Stack;

/// <summary>Bytes already read (while sniffing) replayed before the rest of the stream.</summary>
internal sealed class PrefixedStream(byte[] prefix, int length, Stream inner) : Stream
{
    private int _offset;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_offset >= length) return inner.ReadAsync(buffer, cancellationToken);
        int n = Math.Min(buffer.Length, length - _offset);
        prefix.AsSpan(_offset, n).CopyTo(buffer.Span);
        _offset += n;
        return ValueTask.FromResult(n);
    }
}
