using System.Buffers;

namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// A plugin stream that frames what it writes (obfs=tls records, Mux.Cool frames): each write is cut
/// into frames in a pooled buffer rented for that write (an idle stream holds none) and sent with one write to
/// the connection per buffer. Writes are serialized by a lock (the subclass's framing state is not shared);
/// disposing takes the lock for good after the subclass's farewell frame, if any.
/// </summary>
internal abstract class FramingPluginStream(Stream inner, int bufferSize) : PluginStream(inner)
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private bool _disposed;

    /// <summary>Frames as much of <paramref name="data"/> as fits into <paramref name="output"/>, consuming it; returns the bytes written.</summary>
    protected abstract int Frame(ref ReadOnlyMemory<byte> data, Span<byte> output);

    /// <summary>Bytes to send when the stream is disposed (Mux.Cool's End); none by default.</summary>
    protected virtual int Farewell(Span<byte> output) => 0;

    public sealed override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            byte[] output = ArrayPool<byte>.Shared.Rent(bufferSize);
            try
            {
                while (!buffer.IsEmpty)
                {
                    int n = Frame(ref buffer, output);
                    await Inner.WriteAsync(output.AsMemory(0, n), cancellationToken);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(output);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed && _writeLock.Wait(TimeSpan.FromSeconds(1)))
        {
            byte[] output = ArrayPool<byte>.Shared.Rent(bufferSize);
            try
            {
                int n = Farewell(output);
                if (n > 0) Inner.WriteAsync(output.AsMemory(0, n)).AsTask().Wait(TimeSpan.FromSeconds(1));
            }
            catch (Exception e) when (e is IOException or AggregateException or ObjectDisposedException or OperationCanceledException)
            {
                // The connection is gone already; nothing to tell the server.
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(output);
            }
            _disposed = true;
            _writeLock.Release();
        }
        base.Dispose(disposing);
    }
}
