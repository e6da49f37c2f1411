namespace Sluice.Core.Outbounds;

/// <summary>
/// The verdict on a proxy server that answers a request it cannot authenticate with silence (an AEAD Shadowsocks server
/// that cannot decrypt, a VMess server that finds no user for the auth ID: both read on and say nothing, so a probe
/// learns nothing). Until <see cref="Answered"/>, each <see cref="NoteWrite"/> moves a deadline <paramref name="timeout"/>
/// past the app's latest bytes; when it passes, <paramref name="onSilence"/> runs once (log why, close the connection).
/// An app that keeps uploading to a server with nothing to say yet is not waiting for an answer, while one that sent
/// its request and waits gets its verdict one timeout after it spoke. A timeout of zero or less disables it.
/// </summary>
internal sealed class AnswerDeadline(TimeSpan timeout, TimeProvider clock, Action onSilence) : IDisposable
{
    private ITimer? _timer;
    private long _lastWrite;
    private volatile bool _done; // answered or disposed

    public TimeSpan Timeout => timeout;

    public void NoteWrite()
    {
        if (_done || timeout <= TimeSpan.Zero) return;
        Volatile.Write(ref _lastWrite, clock.GetTimestamp());
        _timer ??= clock.CreateTimer(static s => ((AnswerDeadline)s!).OnDeadline(), this, timeout, System.Threading.Timeout.InfiniteTimeSpan);
    }

    /// <summary>The server said something: no verdict is due.</summary>
    public void Answered()
    {
        if (_done) return;
        _done = true;
        _timer?.Dispose();
    }

    private void OnDeadline()
    {
        if (_done) return;
        var quiet = clock.GetElapsedTime(Volatile.Read(ref _lastWrite));
        if (quiet < timeout)
        {
            _timer?.Change(timeout - quiet, System.Threading.Timeout.InfiniteTimeSpan);
            return;
        }
        _done = true;
        onSilence();
    }

    public void Dispose() => Answered();
}
