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
    /// An AEAD server that cannot decrypt a connection stays silent and keeps it open (shadowsocks-libev drains it until
    /// its own timeout), so the only sign of a wrong password is silence: the app's writes feed the answer deadline
    /// (<see cref="AnswerDeadline"/>; ss-server sends not even its salt before the target answers, so an upload with
    /// nothing back yet is not yet a verdict), and the first bytes read settle it.
    /// </summary>
    private void NoteWrite() => _deadline.NoteWrite();

    private void OnSilence()
    {
        Fail($"no answer from the server within {_deadline.Timeout.TotalSeconds:0.#} s of the last bytes sent for {_target}: wrong password or method? (an AEAD server stays silent when it cannot decrypt)");
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
