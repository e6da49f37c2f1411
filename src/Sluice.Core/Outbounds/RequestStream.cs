using System.Buffers;

namespace Sluice.Core.Outbounds;

/// <summary>
/// A proxy request over a connection to the server (Trojan, VLESS), the way those clients send it:
/// 1. the request header is held back and goes out in the same write as the app's first bytes (one TLS
///    record, one segment); a read or half-close before any write sends it alone, so a server-speaks-first
///    protocol gets its greeting;
/// 2. an optional response prefix (<see cref="IResponsePrefix"/>, VLESS's) is taken off the first bytes read;
/// 3. a server that closes before sending a single byte has refused the request (a wrong password/uuid
///    is answered that way): <paramref name="onRefused"/> logs it once and the read fails, so the relay
///    resets the app's connection instead of ending it cleanly.
/// Reads and writes may run concurrently (one each); until the header is out, writes queue behind it, so
/// no byte can overtake it even when a lower layer (a WebSocket handshake) makes both wait.
/// </summary>
internal sealed class RequestStream(Stream inner, byte[] header, IResponsePrefix? response, Action onRefused) : ConnectionStream, IReadinessStream
{
    private readonly SemaphoreSlim _headerGate = new(1, 1); // orders every write before the header's end
    private volatile bool _headerSent;
    private bool _answered;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_headerSent)
        {
            await _headerGate.WaitAsync(cancellationToken);
            try
            {
                if (!_headerSent)
                {
                    byte[] joined = ArrayPool<byte>.Shared.Rent(header.Length + buffer.Length);
                    try
                    {
                        header.CopyTo(joined, 0);
                        buffer.Span.CopyTo(joined.AsSpan(header.Length));
                        await inner.WriteAsync(joined.AsMemory(0, header.Length + buffer.Length), cancellationToken);
                        _headerSent = true;
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(joined);
                    }
                    return;
                }
            }
            finally
            {
                _headerGate.Release();
            }
        }
        await inner.WriteAsync(buffer, cancellationToken);
    }

    /// <summary>Sends the header alone if no write has carried it yet.</summary>
    private async ValueTask SendHeaderAsync(CancellationToken cancellationToken)
    {
        await _headerGate.WaitAsync(cancellationToken);
        try
        {
            if (_headerSent) return;
            await inner.WriteAsync(header, cancellationToken);
            _headerSent = true;
        }
        finally
        {
            _headerGate.Release();
        }
    }

    /// <summary>True when the connection waits for bytes without a buffer (a socket, Sluice's own TLS client over one).</summary>
    public bool WaitsWithoutBuffer => StreamEnds.WaitsWithoutBuffer(inner);

    /// <summary>
    /// Reads the server's bytes (the response prefix taken off). A zero-byte read sends the header if no write has, then
    /// waits without a buffer until the connection has bytes or its end, so a relay holds none while the flow idles.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_headerSent) await SendHeaderAsync(cancellationToken);
        if (buffer.IsEmpty)
        {
            if (WaitsWithoutBuffer) await StreamEnds.WaitReadableAsync(inner, cancellationToken);
            return 0;
        }
        while (true)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                if (_answered) return 0;
                _answered = true; // one log line per connection, even if the caller reads again
                onRefused();
                throw new IOException("the proxy server closed the connection without answering");
            }
            _answered = true;
            if (response is null || response.Done) return n;
            int used = response.Consume(buffer.Span[..n]);
            if (used < n)
            {
                buffer.Span[used..n].CopyTo(buffer.Span);
                return n - used;
            }
        }
    }

    public override void ShutdownWrite()
    {
        if (!_headerSent) SendHeaderAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        StreamEnds.ShutdownWrite(inner);
    }

    public override void Abort() => StreamEnds.Abort(inner);

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>
/// A protocol's answer header in front of the server's data (VLESS: version and addons). It is fed the
/// first bytes read, in whatever pieces they arrive, and says how many of them were header.
/// </summary>
internal interface IResponsePrefix
{
    bool Done { get; }

    /// <summary>Takes header bytes from the start of <paramref name="data"/>; throws IOException when they are invalid.</summary>
    int Consume(ReadOnlySpan<byte> data);
}
