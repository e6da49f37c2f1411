using System.Net.Sockets;

namespace Sluice.Core.Outbounds.Groups;

/// <summary>
/// One member of a group: its last probe result and the streams it carries (weakly held, so a
/// finished connection costs nothing), which are closed when the member is found dead.
/// </summary>
internal sealed class MemberHealth(IOutbound outbound)
{
    private readonly List<WeakReference<Stream>> _streams = [];

    public IOutbound Outbound { get; } = outbound;

    /// <summary>False after a failed probe or dial, until a probe passes again.</summary>
    public volatile bool Healthy = true;

    /// <summary>Last TCP connect latency; null when never measured or the member has no server to probe.</summary>
    public TimeSpan? Delay;

    public string? LastError;

    public void Track(Stream stream)
    {
        lock (_streams)
        {
            if (_streams.Count >= 64) _streams.RemoveAll(w => !w.TryGetTarget(out var s) || !s.CanRead);
            _streams.Add(new WeakReference<Stream>(stream));
        }
    }

    /// <summary>Closes every live connection through this member (with RST where possible) so apps reconnect.</summary>
    public int CloseAll()
    {
        List<Stream> live = [];
        lock (_streams)
        {
            foreach (var w in _streams)
                if (w.TryGetTarget(out var s) && s.CanRead) live.Add(s);
            _streams.Clear();
        }
        foreach (var stream in live)
        {
            try
            {
                StreamEnds.Abort(stream);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
            }
        }
        return live.Count;
    }
}
