namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// One proxied connection as one HTTP/2 request (<see cref="Http2Tunnel"/>):
/// 1. the request goes out at once; the stream is open when the handler hands over the request body;
/// 2. writes go into the request body; half-close ends it (END_STREAM);
/// 3. the first read waits for the answer's headers and checks them (<see cref="Http2TunnelChecks.Headers"/>); a
///    refusal is one warning naming the outbound and the answer, and an IOException; then reads take the response body;
///    at its end <see cref="Http2TunnelChecks.End"/> judges the trailers;
/// 4. abort and dispose cancel the request (RST_STREAM when it is still open), never the connection under it.
/// </summary>
internal sealed class Http2TunnelStream : ConnectionStream
{
    private readonly DuplexUploadContent _content;
    private readonly Http2TunnelChecks _checks;
    private readonly CancellationTokenSource _cancel = new();
    private readonly Task<HttpResponseMessage> _response;
    private readonly Lock _bodyLock = new();
    private Task<Stream>? _body;
    private HttpResponseMessage? _answer;
    private bool _ended;
    private int _disposed;

    public Http2TunnelStream(HttpMessageInvoker invoker, HttpRequestMessage request, DuplexUploadContent content, Http2TunnelChecks checks)
    {
        _content = content;
        _checks = checks;
        _response = SendAsync(invoker, request);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMessageInvoker invoker, HttpRequestMessage request)
    {
        try
        {
            return await invoker.SendAsync(request, _cancel.Token);
        }
        catch (Exception e)
        {
            _content.Fail(e);
            throw;
        }
    }

    /// <summary>Waits until the request body can be written; a connection that could not be made is an OutboundException.</summary>
    public async ValueTask WaitOpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _content.Upload.WaitAsync(cancellationToken);
        }
        catch (HttpRequestException e)
        {
            // The ConnectCallback's own errors (TCP, TLS) already name the outbound.
            var inner = e.InnerException is OutboundException outbound ? outbound : null;
            throw new OutboundException(inner?.Message ?? $"{_checks.Who}: HTTP/2: {e.Message}", e);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            var upload = await _content.Upload;
            await upload.WriteAsync(buffer, cancellationToken);
            await upload.FlushAsync(cancellationToken); // the handler holds DATA frames until a flush (as Grpc.Net.Client does per message)
        }
        catch (HttpRequestException e)
        {
            throw new IOException($"{_checks.Who}: HTTP/2: {e.Message}", e);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_ended) return 0;
        Task<Stream> body;
        lock (_bodyLock) body = _body ??= BodyAsync();
        int n;
        try
        {
            n = await (await body.WaitAsync(cancellationToken)).ReadAsync(buffer, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new IOException($"{_checks.Who}: HTTP/2: {e.Message}", e);
        }
        if (n == 0 && !buffer.IsEmpty)
        {
            _ended = true;
            if (_checks.End?.Invoke(_answer!) is { } problem) throw Refused(problem);
        }
        return n;
    }

    private async Task<Stream> BodyAsync()
    {
        HttpResponseMessage answer;
        try
        {
            answer = await _response;
        }
        catch (HttpRequestException e)
        {
            throw Refused($"HTTP/2 request failed: {e.Message}");
        }
        _answer = answer;
        if (_checks.Headers(answer) is { } problem) throw Refused(problem);
        return await answer.Content.ReadAsStreamAsync();
    }

    private IOException Refused(string problem)
    {
        _checks.Refused(problem);
        return new IOException($"{_checks.Who}: {problem}");
    }

    /// <summary>Ends the request body: the server reads the end of the upload; the download goes on.</summary>
    public override void ShutdownWrite() => _content.Complete();

    public override void Abort() => Dispose();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _cancel.Cancel(); // resets the stream if either direction is still open
            _content.Complete();
            _response.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            _response.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
        base.Dispose(disposing);
    }
}
