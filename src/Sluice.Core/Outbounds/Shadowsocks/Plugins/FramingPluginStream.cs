using System.Buffers;

namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// A plugin stream that frames what it writes (obfs=tls records, Mux.Cool frames): each write is cut
/// into frames in one pooled buffer per stream and sent with one write to the connection. Writes are
/// serialized by a lock; disposing takes the lock for good (after the subclass's farewell frame, if any)
/// before the buffer goes back to the pool, so no write can still be filling it.
/// </summary>
internal abstract class FramingPluginStream(Stream inner, int bufferSize) : PluginStream(inner)
{
    private readonly byte[] _out = ArrayPool<byte>.Shared.Rent(bufferSize);
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
            while (!buffer.IsEmpty)
            {
                int n = Frame(ref buffer, _out);
                await Inner.WriteAsync(_out.AsMemory(0, n), cancellationToken);
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
            try
            {
                int n = Farewell(_out);
                if (n > 0) Inner.WriteAsync(_out.AsMemory(0, n)).AsTask().Wait(TimeSpan.FromSeconds(1));
            }
            catch (Exception e) when (e is IOException or AggregateException or ObjectDisposedException or OperationCanceledException)
            {
                // The connection is gone already; nothing to tell the server.
            }
            _disposed = true;
            ArrayPool<byte>.Shared.Return(_out);
            _writeLock.Release();
        }
        base.Dispose(disposing);
    }
}
