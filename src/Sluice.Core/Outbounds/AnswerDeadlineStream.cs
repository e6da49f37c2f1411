namespace Sluice.Core.Outbounds;

/// <summary>
/// A connection to a proxy server whose protocol has no place of its own to watch for the answer (VMess: its body
/// stream sits on top of this): every write is an app's bytes for <see cref="AnswerDeadline"/>, the first byte read is
/// the answer. When the deadline passes the connection is closed after <paramref name="onSilence"/> said why. After the
/// first byte back the stream only passes reads and writes through.
/// </summary>
internal sealed class AnswerDeadlineStream : ConnectionStream, IReadinessStream
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

    /// <summary>A zero-byte read waits as the connection's does (it is no answer: only a byte read is).</summary>
    public bool WaitsWithoutBuffer => StreamEnds.WaitsWithoutBuffer(_inner);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            if (WaitsWithoutBuffer) await StreamEnds.WaitReadableAsync(_inner, cancellationToken);
            return 0;
        }
        int n = await _inner.ReadAsync(buffer, cancellationToken);
        if (n > 0 && !_answered)
        {
            _answered = true;
            _deadline.Answered();
        }
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void ShutdownWrite() => StreamEnds.ShutdownWrite(_inner);

    public override void Abort() => StreamEnds.Abort(_inner);

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
