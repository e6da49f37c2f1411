namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// The shape every built-in plugin stream shares: it owns the connection under it, passes half-close
/// and abort down (<see cref="IConnectionStream"/>), and implements only the two span-based async paths
/// (<see cref="ConnectionStream"/> adapts the rest).
/// </summary>
internal abstract class PluginStream(Stream inner) : ConnectionStream
{
    protected Stream Inner { get; } = inner;

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    public abstract override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);

    public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

    public override void ShutdownWrite() => StreamEnds.ShutdownWrite(Inner);

    public override void Abort()
    {
        StreamEnds.Abort(Inner);
        Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Inner.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Reads until <paramref name="buffer"/>[..<paramref name="need"/>] is full; false at end of stream first.</summary>
    protected static async ValueTask<bool> ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int have = 0;
        while (have < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[have..], cancellationToken);
            if (n == 0) return false;
            have += n;
        }
        return true;
    }
}
