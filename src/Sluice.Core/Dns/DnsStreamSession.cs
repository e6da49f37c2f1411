using System.Buffers;
using System.Buffers.Binary;

namespace Sluice.Core.Dns;

/// <summary>
/// DNS over one byte stream with RFC 7766 framing, for hijacked TCP flows and the TCP side of a DNS
/// listener:
/// 1. read a 2-byte length and the message; end of stream or a zero length ends the session;
/// 2. a query the server answers at once (cache hit, rule, hosts) is written right away, in order;
///    one that waits for an upstream is written when it completes, so later queries on the connection
///    are not held up behind it (RFC 7766 6.2.1.1: answers may come out of order, clients match IDs);
/// 3. no new query within the idle timeout ends the session (RFC 7766 6.2.3); answers still pending
///    are written before it ends. A query the server drops ends the session too (the client would
///    otherwise wait for an answer that never comes).
/// </summary>
internal sealed class DnsStreamSession
{
    private const int MaxMessage = 65535;

    /// <summary>At most this many queries of one connection wait for upstreams; reading pauses beyond it.</summary>
    internal const int MaxPending = 32;

    /// <summary>How long a connection may sit without a new query: 10 s (unbound uses 30 s; clients reconnect cheaply on loopback).</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);

    private readonly DnsServer _server;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly DnsQuerier _querier;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly List<Task> _pending = [];
    private CancellationTokenSource? _reading;

    private DnsStreamSession(DnsServer server, Stream input, Stream output, DnsQuerier querier)
    {
        _server = server;
        _input = input;
        _output = output;
        _querier = querier;
    }

    /// <summary>Serves queries from <paramref name="input"/>, answers to <paramref name="output"/>, until one of the ends above.</summary>
    public static Task ServeAsync(DnsServer server, Stream input, Stream output, DnsQuerier querier, TimeSpan idleTimeout, CancellationToken ct) =>
        new DnsStreamSession(server, input, output, querier).RunAsync(idleTimeout, ct);

    private async Task RunAsync(TimeSpan idleTimeout, CancellationToken ct)
    {
        byte[] message = ArrayPool<byte>.Shared.Rent(MaxMessage + 2);
        byte[] answer = ArrayPool<byte>.Shared.Rent(MaxMessage + 2);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _reading = idle;
        try
        {
            while (true)
            {
                idle.CancelAfter(idleTimeout);
                if (!await ReadExactlyAsync(message.AsMemory(0, 2), idle.Token)) break;
                int length = BinaryPrimitives.ReadUInt16BigEndian(message);
                if (length == 0 || !await ReadExactlyAsync(message.AsMemory(2, length), idle.Token)) break;

                var handled = _server.HandleAsync(message.AsMemory(2, length), answer.AsMemory(2, MaxMessage), _querier, maxUdpSize: 0, ct);
                if (handled.IsCompletedSuccessfully)
                {
                    if (!await WriteAsync(answer, handled.Result, ct)) break;
                    continue;
                }
                // The server keeps reading this query and writing that answer until it completes: hand
                // both buffers over and read on with fresh ones.
                _pending.Add(FinishAsync(handled, message, answer, ct));
                message = ArrayPool<byte>.Shared.Rent(MaxMessage + 2);
                answer = ArrayPool<byte>.Shared.Rent(MaxMessage + 2);
                _pending.RemoveAll(t => t.IsCompleted);
                if (_pending.Count >= MaxPending) await Task.WhenAny(_pending);
            }
            await Task.WhenAll(_pending);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
            ArrayPool<byte>.Shared.Return(answer);
        }
    }

    private async Task FinishAsync(ValueTask<int> handled, byte[] message, byte[] answer, CancellationToken ct)
    {
        try
        {
            if (!await WriteAsync(answer, await handled, ct)) await _reading!.CancelAsync(); // dropped: end the session (see above)
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // the client went away, or the engine stops
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
            ArrayPool<byte>.Shared.Return(answer);
        }
    }

    /// <summary>Writes one answer (its message at offset 2) with its length prefix; false when there is none to write.</summary>
    private async ValueTask<bool> WriteAsync(byte[] answer, int length, CancellationToken ct)
    {
        if (length <= 0) return false;
        BinaryPrimitives.WriteUInt16BigEndian(answer, (ushort)length);
        await _writing.WaitAsync(ct);
        try
        {
            await _output.WriteAsync(answer.AsMemory(0, length + 2), ct);
        }
        finally
        {
            _writing.Release();
        }
        return true;
    }

    /// <summary>False at end of stream, on the idle timeout, or when the stream was closed under the read.</summary>
    private async ValueTask<bool> ReadExactlyAsync(Memory<byte> buffer, CancellationToken ct)
    {
        try
        {
            await _input.ReadExactlyAsync(buffer, ct);
            return true;
        }
        catch (Exception e) when (e is EndOfStreamException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            return false;
        }
    }
}
