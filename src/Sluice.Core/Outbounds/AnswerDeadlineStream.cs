namespace Sluice.Core.Outbounds;

/// <summary>
/// A connection to a proxy server whose protocol has no place of its own to watch for the answer (VMess: its body
/// stream sits on top of this): every write is an app's bytes for <see cref="AnswerDeadline"/>, the first byte read is
/// the answer. When the deadline passes the connection is closed after <paramref name="onSilence"/> said why. After the
/// first byte back the stream only passes reads and writes through.
/// </summary>
internal sealed class AnswerDeadlineStream : Stream, IConnectionStream
{
    private readonly Stream _inner;
    private readonly AnswerDeadline _deadline;
    private bool _answered;

    public AnswerDeadlineStream(Stream inner, TimeSpan timeout, TimeProvider clock, Action onSilence)
    {
        _inner = inner;
        _deadline = new AnswerDeadline(timeout, clock, () =>
        {
            onSilence();
            _inner.Dispose();
        });
    }

    private void NoteWrite() => _deadline.NoteWrite();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        NoteWrite();
        await _inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        NoteWrite();
        _inner.Write(buffer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken);
        if (n > 0 && !_answered)
        {
            _answered = true;
            _deadline.Answered();
        }
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public void ShutdownWrite() => StreamEnds.ShutdownWrite(_inner);

    public void Abort() => StreamEnds.Abort(_inner);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _deadline.Dispose();
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
