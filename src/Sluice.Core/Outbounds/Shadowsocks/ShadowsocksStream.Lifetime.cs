using System.Buffers;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>The stream's lifetime: the reference count that guards its pooled buffers, their return, and the answer timeout.</summary>
internal sealed partial class ShadowsocksStream
{
    /// <summary>Takes a reference for one operation; throws when the stream is disposed and its buffers are gone.</summary>
    private void Enter()
    {
        int seen;
        do
        {
            seen = Volatile.Read(ref _references);
            ObjectDisposedException.ThrowIf(seen == 0 || Volatile.Read(ref _ownerReleased) != 0, this);
        }
        while (Interlocked.CompareExchange(ref _references, seen + 1, seen) != seen);
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        _encoder.Dispose();
        _decoder?.Dispose();
        lock (_prefixLock) ReturnPrefix();
        ReturnInput();
        ReturnPlain();
    }

    /// <summary>
    /// An AEAD server that cannot decrypt a connection stays silent and keeps it open (shadowsocks-libev
    /// drains it until its own timeout, so probes learn nothing). The only sign of a wrong password is
    /// silence, so a connection whose server says nothing within <see cref="_answerTimeout"/> of the
    /// app's latest bytes is closed with a reason in the log instead of hanging. Each write moves the
    /// deadline: an app that goes on uploading to a server that has nothing to say yet (a backup push, a
    /// log shipper; ss-server sends not even its salt before the target answers) is not waiting for an
    /// answer, while an app that sent a request and waits gets its verdict one timeout after it spoke.
    /// </summary>
    private void NoteWrite()
    {
        if (_answerTimeout <= TimeSpan.Zero || Volatile.Read(ref _received) > 0) return;
        Volatile.Write(ref _lastWrite, _clock.GetTimestamp());
        if (_answerTimer is null)
            _answerTimer = _clock.CreateTimer(static state => ((ShadowsocksStream)state!).OnAnswerTimeout(), this, _answerTimeout, Timeout.InfiniteTimeSpan);
    }

    private void OnAnswerTimeout()
    {
        if (Volatile.Read(ref _received) > 0) return;
        var quiet = _clock.GetElapsedTime(Volatile.Read(ref _lastWrite));
        if (quiet < _answerTimeout)
        {
            _answerTimer?.Change(_answerTimeout - quiet, Timeout.InfiniteTimeSpan);
            return;
        }
        Fail($"no answer from the server within {_answerTimeout.TotalSeconds:0.#} s of the last bytes sent for {_target}: wrong password or method? (an AEAD server stays silent when it cannot decrypt)");
        _transport.Dispose();
    }

    /// <summary>Bytes of pooled buffers this stream holds right now (0 for an idle stream whose header has gone).</summary>
    public int HeldBufferBytes => (_in?.Length ?? 0) + (_plain?.Length ?? 0) + (_prefix?.Length ?? 0);

    private void ReturnInput()
    {
        if (_in is null) return;
        ArrayPool<byte>.Shared.Return(_in);
        _in = null;
        _inStart = _inEnd = 0;
    }

    private void ReturnPlain()
    {
        if (_plain is null) return;
        ArrayPool<byte>.Shared.Return(_plain);
        _plain = null;
        _plainStart = _plainEnd = 0;
    }

    private void ReturnPrefix()
    {
        if (_prefix is null) return;
        ArrayPool<byte>.Shared.Return(_prefix);
        _prefix = null;
    }
}
