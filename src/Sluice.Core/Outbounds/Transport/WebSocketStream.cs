using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// A byte stream carried in WebSocket binary frames over a connection (TLS or plain), client side:
/// 1. the opening handshake goes out with the first write, its first max_early_data bytes inside the
///    request; a read first opens it without early data; the rest of that write waits for the 101
///    (servers refuse frames sent before their answer); early data in a header that the 101 does not
///    echo is judged by <see cref="WebSocketEarlyData"/> (never resent: a server may have taken it silently);
/// 2. writes become masked binary frames (at most 64 KiB each) under a write lock, shared with the
///    pongs and the close answer the read side sends;
/// 3. reads hand out data frames' payloads, copied straight from the connection for large frames;
///    pings are answered, a close frame is answered and ends the stream (read returns 0).
/// Half-close and abort go to the connection underneath.
/// </summary>
internal sealed class WebSocketStream : ConnectionStream
{
    private const int FrameSlice = 64 * 1024;
    private const int ReadBufferSize = 16 * 1024;

    private readonly Stream _inner;
    private readonly WebSocketTransportOptions _options;
    private readonly string _host;
    private readonly string _who;
    private readonly TimeSpan _timeout;
    private readonly WebSocketEarlyData _earlyData;
    private readonly Lock _startLock = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _in = GC.AllocateUninitializedArray<byte>(ReadBufferSize);
    private readonly byte[] _out = GC.AllocateUninitializedArray<byte>(FrameSlice + WebSocketFrame.MaxHeaderLength);
    private Task? _handshake;
    private int _inStart, _inEnd;
    private long _payloadLeft;
    private bool _closeSent, _ended;
    private bool _earlyDataUnconfirmed, _received;
    private int _disposed;

    public WebSocketStream(Stream inner, WebSocketTransportOptions options, string host, string who, TimeSpan timeout, WebSocketEarlyData earlyData)
    {
        _earlyData = earlyData;
        _inner = inner;
        _options = options;
        _host = host;
        _who = who;
        _timeout = timeout;
    }

    /// <summary>Starts the handshake once; returns how many of <paramref name="first"/>'s bytes it carries as early data.</summary>
    private int Start(ReadOnlySpan<byte> first, out Task handshake)
    {
        lock (_startLock)
        {
            if (_handshake is not null)
            {
                handshake = _handshake;
                return 0;
            }
            bool inHeader = _options.EarlyDataHeaderName is not null;
            int early = inHeader && _earlyData.ServerIgnoresIt ? 0 : Math.Min(first.Length, _options.MaxEarlyData);
            string key = WebSocketHandshake.NewKey();
            byte[] request = WebSocketHandshake.Request(_options, _host, key, first[..early]);
            string? echo = inHeader && early > 0 ? WebSocketHandshake.EarlyDataText(first[..early]) : null;
            handshake = _handshake = HandshakeAsync(request, key, echo);
            return early;
        }
    }

    /// <param name="echo">The early data's header value, which a server that took it echoes; null without early data in a header.</param>
    private async Task HandshakeAsync(byte[] request, string key, string? echo)
    {
        using var limit = new CancellationTokenSource(_timeout);
        try
        {
            await _inner.WriteAsync(request, limit.Token);
            int head;
            while ((head = HttpHead.HeadLength(_in.AsSpan(0, _inEnd))) < 0)
            {
                if (_inEnd >= HttpHead.MaxResponseHead || _inEnd == _in.Length)
                    throw new IOException($"{_who}: WebSocket: the server's answer to the upgrade is longer than {HttpHead.MaxResponseHead} bytes");
                int n = await _inner.ReadAsync(_in.AsMemory(_inEnd, Math.Min(_in.Length, HttpHead.MaxResponseHead) - _inEnd), limit.Token);
                if (n == 0) throw new IOException($"{_who}: WebSocket: the server closed the connection instead of answering the upgrade");
                _inEnd += n;
            }
            if (WebSocketHandshake.Check(_in.AsSpan(0, head), key) is { } problem) throw new IOException($"{_who}: {problem}");
            if (echo is not null) _earlyDataUnconfirmed = !WebSocketHandshake.Echoes(_in.AsSpan(0, head), _options.EarlyDataHeaderName!, echo);
            _inStart = head; // bytes after the head are the first frames
        }
        catch (OperationCanceledException)
        {
            throw new IOException($"{_who}: WebSocket: no answer to the upgrade within {_timeout.TotalSeconds:0.#} s");
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int early = Start(buffer.Span, out var handshake);
        await handshake;
        var rest = buffer[early..];
        while (!rest.IsEmpty)
        {
            var slice = rest[..Math.Min(rest.Length, FrameSlice)];
            await SendFrameAsync(WebSocketFrame.Binary, slice, cancellationToken);
            rest = rest[slice.Length..];
        }
    }

    private async ValueTask SendFrameAsync(byte opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        uint mask = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4)); // §5.3: unpredictable per frame
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            int header = WebSocketFrame.WriteHeader(_out, opcode, payload.Length, mask);
            WebSocketFrame.MaskCopy(payload.Span, _out.AsSpan(header), mask);
            await _inner.WriteAsync(_out.AsMemory(0, header + payload.Length), cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        try
        {
            n = await ReadPayloadAsync(buffer, cancellationToken);
        }
        catch (IOException e) when (DroppedEarlyData() is { } droppedEarly)
        {
            throw new IOException(droppedEarly.Message, e);
        }
        if (n > 0) _received = true;
        else if (!buffer.IsEmpty && DroppedEarlyData() is { } dropped) throw dropped;
        return n;
    }

    /// <summary>
    /// The server ended the connection: with unechoed early data and nothing received, it dropped the request.
    /// Then the end is an error that says so (logged once, by <see cref="WebSocketEarlyData"/>), not a plain end of
    /// stream, which the proxy protocol above would report as a refused request ("wrong uuid?").
    /// </summary>
    private IOException? DroppedEarlyData()
    {
        if (!_earlyDataUnconfirmed || _received || Volatile.Read(ref _disposed) != 0) return null;
        _earlyDataUnconfirmed = false; // one verdict per connection
        return _earlyData.ServerIgnored(_options.EarlyDataHeaderName!);
    }

    private async ValueTask<int> ReadPayloadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        Start(default, out var handshake);
        await handshake;
        while (true)
        {
            if (_ended) return 0;
            if (_payloadLeft > 0)
            {
                int want = (int)Math.Min(buffer.Length, _payloadLeft);
                int n;
                if (_inEnd > _inStart)
                {
                    n = Math.Min(want, _inEnd - _inStart);
                    _in.AsSpan(_inStart, n).CopyTo(buffer.Span);
                    _inStart += n;
                }
                else
                {
                    n = await _inner.ReadAsync(buffer[..want], cancellationToken);
                    if (n == 0) throw new IOException($"{_who}: WebSocket: the connection ended inside a frame");
                }
                _payloadLeft -= n;
                return n;
            }
            int used = WebSocketFrame.TryReadHeader(_in.AsSpan(_inStart, _inEnd - _inStart), out var frame);
            if (used < 0) throw new IOException($"{_who}: WebSocket: the server sent a malformed frame");
            if (used == 0 || (frame.Opcode >= WebSocketFrame.Close && _inEnd - _inStart < used + frame.PayloadLength))
            {
                if (!await FillAsync(cancellationToken)) return EndOfStream();
                continue;
            }
            _inStart += used;
            if (frame.Opcode < WebSocketFrame.Close)
            {
                _payloadLeft = frame.PayloadLength;
                continue;
            }
            var payload = _in.AsMemory(_inStart, (int)frame.PayloadLength);
            _inStart += payload.Length;
            if (frame.Opcode == WebSocketFrame.Ping)
            {
                await SendFrameAsync(WebSocketFrame.Pong, payload.ToArray(), cancellationToken);
            }
            else if (frame.Opcode == WebSocketFrame.Close)
            {
                await SendCloseAsync(cancellationToken);
                _ended = true;
            }
        }
    }

    private int EndOfStream()
    {
        _ended = true;
        return 0; // the connection ended without a close frame: treat as the end, as the servers do
    }

    /// <summary>Reads more of the connection into the buffer, compacting it first; false at its end.</summary>
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_inStart > 0)
        {
            _in.AsSpan(_inStart, _inEnd - _inStart).CopyTo(_in);
            _inEnd -= _inStart;
            _inStart = 0;
        }
        int n = await _inner.ReadAsync(_in.AsMemory(_inEnd), cancellationToken);
        _inEnd += n;
        return n > 0;
    }

    private async ValueTask SendCloseAsync(CancellationToken cancellationToken)
    {
        if (_closeSent) return;
        _closeSent = true;
        try
        {
            await SendFrameAsync(WebSocketFrame.Close, new byte[] { 0x03, 0xE8 }, cancellationToken); // 1000: normal closure
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    public override void ShutdownWrite() => StreamEnds.ShutdownWrite(_inner);

    public override void Abort() => StreamEnds.Abort(_inner);

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
