using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// One origin connection of an HTTP proxy session that forwards absolute-form requests (GET http://host/…):
/// 1. the session writes each request to it, head then body, having queued the request's method first;
/// 2. a pump reads the responses in the same order (RFC 9112 §9.3.2: pipelined requests are answered in order),
///    passes interim 1xx responses (100 Continue) on, and copies each final response to the client by its framing;
/// 3. a response the origin closes after (Connection: close, HTTP/1.0, a body that lasts until close) ends the
///    client's connection too once it is delivered, as the client was told; an origin that closes an idle
///    connection only makes it unusable, and the session dials another for the next request.
/// Listed among the engine's connections (with its byte counts) while it lasts.
/// </summary>
internal sealed class HttpUpstream : IAsyncDisposable
{
    /// <summary>Requests of one connection sent ahead of their responses; the session waits beyond it.</summary>
    internal const int MaxPipelined = 32;

    private readonly Channel<string> _methods = Channel.CreateBounded<string>(MaxPipelined);
    private readonly Stream _remote;
    private readonly HttpMessageReader _reader;
    private readonly Stream _client;
    private readonly TrackedConnection _connection;
    private readonly Action<bool> _endSession;
    private readonly MixedInbound _inbound;
    private readonly MixedRoute _route;
    private readonly CancellationTokenSource _stop;
    private readonly Task _pump;
    private volatile bool _closed;
    private Task? _idleRead;
    private bool _sessionEnded;
    private bool _answering; // a request's response is being read
    private bool _partlyAnswered; // the client has bytes of the response being relayed: too late for a 502

    /// <param name="endSession">Ends the client's connection: gracefully (true: after what was written) or with a reset.</param>
    public HttpUpstream(MixedInbound inbound, MixedRoute route, Destination destination, Stream remote, Stream client, Action<bool> endSession, CancellationToken stopping)
    {
        _inbound = inbound;
        _route = route;
        Destination = destination;
        _remote = remote;
        _reader = new HttpMessageReader(remote);
        _client = client;
        _endSession = endSession;
        // Closing it from `sluice connections` ends the client's connection as well.
        _connection = inbound.Track(route, () =>
        {
            endSession(false);
            remote.Dispose();
        });
        _stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _pump = PumpAsync();
    }

    public Destination Destination { get; }

    /// <summary>Whether another request may be sent: the origin has not closed, nor said it will.</summary>
    public bool Usable => !_closed;

    /// <summary>
    /// Sends one request: its head, then the body <paramref name="body"/> frames from <paramref name="from"/>. False
    /// when the origin closed before it was queued (nothing was sent: the caller sends it on a new connection).
    /// </summary>
    public async Task<bool> SendAsync(string method, byte[] head, HttpMessageReader from, HttpBodyFraming body, CancellationToken ct)
    {
        if (!await _methods.Writer.WaitToWriteAsync(ct) || !_methods.Writer.TryWrite(method)) return false;
        await _remote.WriteAsync(head, ct);
        _connection.AddUpload(head.Length);
        if (!await from.CopyMessageAsync(0, body, _remote, _connection.AddUpload, ct))
            throw new IOException("the client closed inside a request body");
        return true;
    }

    /// <summary>Waits until every request sent has its response delivered; false when one of them ended the session.</summary>
    public async Task<bool> FinishAsync()
    {
        _methods.Writer.TryComplete();
        await _pump;
        return !_sessionEnded;
    }

    private async Task PumpAsync()
    {
        await Task.Yield();
        var token = _stop.Token;
        try
        {
            while (true)
            {
                // Waits for the server's next bytes, and meanwhile for the session to finish with nothing queued. A
                // response starts only after its request was queued; bytes with none queued (a 408 on an idle
                // connection) or the end of the stream make the connection unusable.
                var fill = _reader.FillAsync(token).AsTask();
                if (!fill.IsCompleted)
                {
                    var queued = _methods.Reader.WaitToReadAsync(token).AsTask();
                    if (await Task.WhenAny(fill, queued) == queued && !await queued)
                    {
                        _idleRead = fill; // observed by DisposeAsync, which ends it
                        return;
                    }
                }
                if (!await fill || !_methods.Reader.TryRead(out var method))
                {
                    _closed = true;
                    _methods.Writer.TryComplete();
                    if (_methods.Reader.TryRead(out _)) await FailAsync(answering: false, "the server closed the connection before answering");
                    return;
                }
                _answering = true;
                _partlyAnswered = false;
                if (!await RelayResponseAsync(method, token))
                {
                    _closed = true;
                    _methods.Writer.TryComplete();
                    End(graceful: true);
                    return;
                }
                _answering = false;
            }
        }
        catch (HttpMessageException e)
        {
            await FailAsync(_partlyAnswered, $"the server's response is not HTTP/1.x: {e.Message}");
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            _closed = true;
            _methods.Writer.TryComplete();
            if (_stop.IsCancellationRequested) return; // this connection is being disposed
            // Mid-response only a reset tells the client; before it, a 502 says why; an idle connection that broke
            // is only unusable, and the next request dials anew.
            if (_partlyAnswered) End(graceful: false);
            else if (_answering || _methods.Reader.TryRead(out _)) await FailAsync(answering: false, $"the server broke the connection before answering: {e.Message}");
        }
    }

    /// <summary>Copies interim responses and the final one; false when the connection ends after it.</summary>
    private async Task<bool> RelayResponseAsync(string method, CancellationToken token)
    {
        while (true)
        {
            int length = await _reader.ReadHeadAsync(token);
            if (length == 0) throw new IOException("the server closed the connection before answering");
            var head = HttpHead.Parse(_reader.Buffered.Span[..length]);
            if (!head.Start[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
                || !int.TryParse(head.Start[1], NumberStyles.None, CultureInfo.InvariantCulture, out int status) || status is < 100 or > 999)
                throw new HttpMessageException($"not a status line: \"{HttpHead.Truncate(string.Join(' ', head.Start))}\"");
            bool interim = status is >= 100 and < 200 && status != 101;
            var body = interim ? HttpBodyFraming.Length(0) : head.ResponseBody(method, status);
            _partlyAnswered = true;
            bool complete = await _reader.CopyMessageAsync(length, body, _client, _connection.AddDownload, token);
            if (interim) continue;
            if (!complete && !body.EndsAtClose) throw new IOException("the server closed the connection inside a response");
            return complete && status != 101 && head.KeepsAlive();
        }
    }

    /// <summary>A 502 naming the reason when the client has had nothing of this response yet (and a log line), then the end of the session.</summary>
    private async Task FailAsync(bool answering, string reason)
    {
        _closed = true;
        _inbound.DialFailed(Destination.ToString(), _route.Outbound.Tag, reason);
        if (!answering)
        {
            byte[] text = Encoding.ASCII.GetBytes(reason + "\n");
            try
            {
                await _client.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: {text.Length}\r\nConnection: close\r\n\r\n"), _stop.Token);
                await _client.WriteAsync(text, _stop.Token);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
            }
        }
        End(graceful: !answering);
    }

    private void End(bool graceful)
    {
        _sessionEnded = true;
        _endSession(graceful);
    }

    public async ValueTask DisposeAsync()
    {
        _methods.Writer.TryComplete();
        await _stop.CancelAsync();
        await _remote.DisposeAsync();
        try
        {
            await _pump;
            if (_idleRead is { } read) await read;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // the read the pump left waiting on an idle connection, ended by the disposal
        }
        _reader.Dispose();
        _stop.Dispose();
        _inbound.Untrack(_connection);
    }
}
