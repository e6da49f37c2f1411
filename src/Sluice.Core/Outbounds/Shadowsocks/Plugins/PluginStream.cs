namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// The shape every built-in plugin stream shares: it owns the connection under it, passes half-close
/// and abort down (<see cref="IConnectionStream"/>), and implements only the two span-based async paths;
/// the synchronous and array-based members adapt to those.
/// </summary>
internal abstract class PluginStream(Stream inner) : Stream, IConnectionStream
{
    protected Stream Inner { get; } = inner;

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    public abstract override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public virtual void ShutdownWrite() => StreamEnds.ShutdownWrite(Inner);

    public void Abort()
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
