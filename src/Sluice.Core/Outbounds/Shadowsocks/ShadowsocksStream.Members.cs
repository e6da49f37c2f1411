namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>The <see cref="Stream"/> members that only adapt to the span-based read and write paths.</summary>
internal sealed partial class ShadowsocksStream
{
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) =>
        TaskToAsyncResult.Begin(WriteAsync(buffer, offset, count, CancellationToken.None), callback, state);

    public override void EndWrite(IAsyncResult asyncResult) => TaskToAsyncResult.End(asyncResult);

    public override int Read(Span<byte> buffer)
    {
        byte[] temp = new byte[buffer.Length];
        int n = ReadAsync(temp, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        temp.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 1 ? one[0] : -1;
    }

    public override IAsyncResult BeginRead(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) =>
        TaskToAsyncResult.Begin(ReadAsync(buffer, offset, count, CancellationToken.None), callback, state);

    public override int EndRead(IAsyncResult asyncResult) => TaskToAsyncResult.End<int>(asyncResult);

    public override bool CanRead => Volatile.Read(ref _ownerReleased) == 0;

    public override bool CanWrite => Volatile.Read(ref _ownerReleased) == 0;

    /// <summary>
    /// FIN to the server after the staged header (an app that half-closes before saying anything still
    /// gets its target dialed), passed down to the socket at the bottom.
    /// </summary>
    public override void ShutdownWrite()
    {
        FlushHeader();
        StreamEnds.ShutdownWrite(_transport);
    }

    public override void Abort()
    {
        StreamEnds.Abort(_transport);
        Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _deadline.Dispose();
            _transport.Dispose(); // closes the connection first, so a read or write in flight ends now
            if (Interlocked.Exchange(ref _ownerReleased, 1) == 0) Exit();
        }
        base.Dispose(disposing);
    }
}
