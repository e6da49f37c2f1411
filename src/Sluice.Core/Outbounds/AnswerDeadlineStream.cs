namespace Sluice.Core.Outbounds;

/// <summary>
/// A connection to a proxy server that answers a request it cannot authenticate with silence (a VMess server
/// that finds no user for the auth ID reads on and says nothing, so a probe learns nothing). Until the first
/// byte comes back, each write moves a deadline <paramref name="timeout"/> ahead; when it passes, the connection
/// is closed and <paramref name="onSilence"/> says why, once. An app that keeps uploading is not waiting for an
/// answer, while one that sent its request and waits gets its verdict one timeout after it spoke. After the
/// first byte back the stream only passes reads and writes through.
/// </summary>
internal sealed class AnswerDeadlineStream : Stream, IConnectionStream
{
    private readonly Stream _inner;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _clock;
    private readonly Action _onSilence;
    private ITimer? _timer;
    private long _lastWrite;
    private volatile bool _answered;
    private volatile bool _disposed;

    public AnswerDeadlineStream(Stream inner, TimeSpan timeout, TimeProvider clock, Action onSilence)
    {
        _inner = inner;
        _timeout = timeout;
        _clock = clock;
        _onSilence = onSilence;
    }

    private void NoteWrite()
    {
        if (_answered || _disposed || _timeout <= TimeSpan.Zero) return;
        Volatile.Write(ref _lastWrite, _clock.GetTimestamp());
        _timer ??= _clock.CreateTimer(static s => ((AnswerDeadlineStream)s!).OnDeadline(), this, _timeout, Timeout.InfiniteTimeSpan);
    }

    private void OnDeadline()
    {
        if (_answered || _disposed) return;
        var quiet = _clock.GetElapsedTime(Volatile.Read(ref _lastWrite));
        if (quiet < _timeout)
        {
            _timer?.Change(_timeout - quiet, Timeout.InfiniteTimeSpan);
            return;
        }
        _onSilence();
        _inner.Dispose();
    }

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
            _timer?.Dispose();
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
            _disposed = true;
            _timer?.Dispose();
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
