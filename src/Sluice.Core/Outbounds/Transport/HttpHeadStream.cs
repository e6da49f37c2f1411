namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// A byte stream behind one HTTP/1.1 request head and one answer head (<see cref="HttpHead"/>), client side:
/// 1. the request head goes out with the first write (or at the first read); for an upgrade the write's bytes wait
///    for the 101, as sing-box's client does (a server may read nothing past the head before it answers); for the
///    plain "http" form they follow the head at once;
/// 2. the answer's head is read (at most <see cref="HttpHead.MaxResponseHead"/> bytes, within connect_timeout) and
///    checked; a refusal is one warning naming the outbound and the server's answer, and an IOException;
/// 3. then reads and writes are the connection's; bytes that came after the head are read first.
/// </summary>
internal sealed class HttpHeadStream(Stream inner, byte[] request, bool upgrade, string who, TimeSpan timeout, Action<string> refused)
    : ConnectionStream
{
    private readonly Lock _startLock = new();
    private Task? _sent;
    private Task? _answered;
    private byte[]? _rest;
    private int _restAt, _restEnd;
    private int _disposed;

    /// <summary>Sends the head once (with <paramref name="first"/> behind it unless this is an upgrade); true when this call sent it.</summary>
    private bool Start(ReadOnlyMemory<byte> first, out Task sent)
    {
        lock (_startLock)
        {
            if (_sent is not null)
            {
                sent = _sent;
                return false;
            }
            byte[] bytes = request;
            bool carries = !upgrade && !first.IsEmpty;
            if (carries)
            {
                bytes = new byte[request.Length + first.Length];
                request.CopyTo(bytes, 0);
                first.Span.CopyTo(bytes.AsSpan(request.Length));
            }
            sent = _sent = inner.WriteAsync(bytes).AsTask();
            return carries;
        }
    }

    private Task Answered()
    {
        lock (_startLock) return _answered ??= ReadAnswerAsync();
    }

    private async Task ReadAnswerAsync()
    {
        Start(default, out var sent);
        using var limit = new CancellationTokenSource(timeout);
        var buffer = new byte[HttpHead.MaxResponseHead];
        int filled = 0, head;
        try
        {
            await sent.WaitAsync(limit.Token);
            while ((head = HttpHead.HeadLength(buffer.AsSpan(0, filled))) < 0)
            {
                if (filled == buffer.Length) throw Refused($"the server's answer to the HTTP request is longer than {HttpHead.MaxResponseHead} bytes");
                int n = await inner.ReadAsync(buffer.AsMemory(filled), limit.Token);
                if (n == 0) throw Refused($"the server closed the connection instead of answering the {(upgrade ? "HTTP upgrade" : "HTTP request")}");
                filled += n;
            }
        }
        catch (OperationCanceledException)
        {
            throw Refused($"no answer to the {(upgrade ? "HTTP upgrade" : "HTTP request")} within {timeout.TotalSeconds:0.#} s");
        }
        if (HttpHead.Check(buffer.AsSpan(0, head), upgrade) is { } problem) throw Refused(problem);
        if (filled > head)
        {
            _rest = buffer;
            _restAt = head;
            _restEnd = filled;
        }
    }

    private IOException Refused(string problem)
    {
        refused(problem);
        return new IOException($"{who}: {problem}");
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Start(buffer, out var sent))
        {
            await sent;
            return;
        }
        await sent;
        if (upgrade) await Answered();
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await Answered().WaitAsync(cancellationToken);
        if (_rest is not null)
        {
            int n = Math.Min(buffer.Length, _restEnd - _restAt);
            _rest.AsSpan(_restAt, n).CopyTo(buffer.Span);
            _restAt += n;
            if (_restAt == _restEnd) _rest = null;
            return n;
        }
        return await inner.ReadAsync(buffer, cancellationToken);
    }

    public override void ShutdownWrite() => StreamEnds.ShutdownWrite(inner);

    public override void Abort() => StreamEnds.Abort(inner);

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0) inner.Dispose();
        base.Dispose(disposing);
    }
}
