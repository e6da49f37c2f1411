using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>Carries one DNS message to an upstream and its answer back. Throws on failure; the caller bounds the time.</summary>
internal interface IDnsTransport : IAsyncDisposable
{
    /// <summary>DoH wants ID 0 (RFC 8484 4.1) so answers cache well in HTTP caches.</summary>
    bool ZeroId { get; }

    /// <summary>Returns the length of the answer written to <paramref name="response"/>. Its ID and QR bit are checked.</summary>
    ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken ct);
}

/// <summary>An upstream failed in a way worth one log line (bad answer framing, HTTP status, ...).</summary>
internal sealed class DnsUpstreamException(string message) : Exception(message);

/// <summary>
/// Where an upstream is: its address, or a host name resolved on every connection through another
/// DNS server (a cache hit after the first). The name is kept in the destination so proxies can use it.
/// </summary>
internal sealed class UpstreamAddress(string server, ushort port, Func<string, CancellationToken, ValueTask<IReadOnlyList<IPAddress>>> resolve)
{
    private readonly NetAddress? _literal = NetAddress.TryParse(server, out var a) ? a : null;

    public string Server => server;

    public ushort Port => port;

    public bool IsLiteral => _literal is not null;

    public async ValueTask<Destination> ResolveAsync(CancellationToken ct)
    {
        if (_literal is { } literal) return new Destination(literal, port);
        var addresses = await resolve(server, ct);
        if (addresses.Count == 0) throw new DnsUpstreamException($"the server name {server} has no address");
        return new Destination(NetAddress.FromIPAddress(addresses[0]), port, server);
    }

    public override string ToString() => _literal is { IsV4: false } ? $"[{server}]:{port}" : $"{server}:{port}";
}

/// <summary>
/// UDP: a fresh socket (so a fresh source port) per query, the answer must carry the query's ID, and
/// stray datagrams are ignored. One retransmission after <paramref name="retransmit"/> (half the
/// server timeout: UDP loss is rare, a busy upstream is not). A truncated answer (TC) is asked again
/// over TCP, RFC 7766 5.
/// </summary>
internal sealed class UdpTransport(UpstreamAddress address, Func<IOutbound> outbound, IDnsTransport? tcpFallback, TimeSpan retransmit) : IDnsTransport
{
    public bool ZeroId => false;

    public async ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken ct)
    {
        var destination = await address.ResolveAsync(ct);
        using var channel = await outbound().OpenUdpAsync(destination, ct);
        ushort id = DnsWire.Id(query.Span);
        channel.Send(query.Span);
        bool resent = false;
        while (true)
        {
            int n;
            if (!resent)
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(retransmit);
                try
                {
                    n = await channel.ReceiveAsync(response, attempt.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    resent = true;
                    channel.Send(query.Span);
                    continue;
                }
            }
            else
            {
                n = await channel.ReceiveAsync(response, ct);
            }
            var m = response.Span[..n];
            if (n < DnsWire.HeaderLength || DnsWire.Id(m) != id || (DnsWire.Flags(m) & DnsWire.FlagQr) == 0) continue;
            if ((DnsWire.Flags(m) & DnsWire.FlagTc) != 0 && tcpFallback is not null)
                return await tcpFallback.ExchangeAsync(query, response, ct);
            return n;
        }
    }

    public ValueTask DisposeAsync() => tcpFallback?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>
/// TCP and DoT: 2-byte length framing (RFC 1035 4.2.2, RFC 7858), one query at a time per connection,
/// a few idle connections kept for reuse (DoT's handshake is the expensive part). A reused connection
/// that fails (the server closed it while idle) is retried once on a fresh one.
/// </summary>
internal sealed class StreamTransport(Func<CancellationToken, ValueTask<Stream>> connect) : IDnsTransport
{
    private const int MaxIdle = 4;
    private readonly ConcurrentQueue<Stream> _idle = new();
    private int _disposed;

    public bool ZeroId => false;

    public async ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken ct)
    {
        byte[] frame = ArrayPool<byte>.Shared.Rent(query.Length + 2);
        try
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)query.Length);
            query.CopyTo(frame.AsMemory(2));
            ushort id = DnsWire.Id(query.Span);
            while (true)
            {
                bool reused = _idle.TryDequeue(out var stream);
                stream ??= await connect(ct);
                try
                {
                    await stream.WriteAsync(frame.AsMemory(0, query.Length + 2), ct);
                    await stream.FlushAsync(ct);
                    int n = await ReadMessageAsync(stream, response, id, ct);
                    Return(stream);
                    return n;
                }
                catch (Exception e) when (reused && !ct.IsCancellationRequested && e is IOException or DnsUpstreamException or ObjectDisposedException)
                {
                    await stream.DisposeAsync();
                }
                catch
                {
                    await stream.DisposeAsync();
                    throw;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private static async ValueTask<int> ReadMessageAsync(Stream stream, Memory<byte> response, ushort id, CancellationToken ct)
    {
        while (true)
        {
            await ReadExactly(stream, response[..2], ct);
            int length = BinaryPrimitives.ReadUInt16BigEndian(response.Span);
            if (length > response.Length) throw new DnsUpstreamException($"answer of {length} bytes does not fit");
            await ReadExactly(stream, response[..length], ct);
            if (length < DnsWire.HeaderLength) throw new DnsUpstreamException($"answer of {length} bytes is shorter than a DNS header");
            if (DnsWire.Id(response.Span) == id) return length;
            // an answer to an earlier query that was abandoned on this connection; skip it
        }
    }

    private static async ValueTask ReadExactly(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[read..], ct);
            if (n == 0) throw new DnsUpstreamException("the server closed the connection mid-answer");
            read += n;
        }
    }

    private void Return(Stream stream)
    {
        if (Volatile.Read(ref _disposed) == 0 && _idle.Count < MaxIdle) _idle.Enqueue(stream);
        else stream.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _disposed, 1);
        while (_idle.TryDequeue(out var s)) await s.DisposeAsync();
    }

    /// <summary>A DoT connection: TCP through the outbound, then TLS (ALPN "dot", RFC 7858 / 8310).</summary>
    public static Func<CancellationToken, ValueTask<Stream>> Tls(UpstreamAddress address, Func<IOutbound> outbound, SslClientAuthenticationOptions tls) =>
        async ct =>
        {
            var tcp = await outbound().DialTcpAsync(await address.ResolveAsync(ct), ct);
            var ssl = new SslStream(tcp, leaveInnerStreamOpen: false);
            try
            {
                await ssl.AuthenticateAsClientAsync(tls, ct);
                return ssl;
            }
            catch
            {
                await ssl.DisposeAsync();
                throw;
            }
        };

    public static Func<CancellationToken, ValueTask<Stream>> Tcp(UpstreamAddress address, Func<IOutbound> outbound) =>
        async ct => await outbound().DialTcpAsync(await address.ResolveAsync(ct), ct);
}

/// <summary>
/// The host's resolvers (resolv.conf "nameserver" lines, read at start and again when the file changes),
/// tried in order over UDP on the direct lane; each gets an equal share of the timeout so a dead first
/// one leaves time for the next.
/// </summary>
internal sealed class LocalTransport : IDnsTransport
{
    private readonly string _path;
    private readonly Func<IReadOnlyList<IPAddress>, IReadOnlyList<IDnsTransport>> _create;
    private readonly TimeSpan _timeout;
    private volatile State _state;

    /// <param name="create">Builds one transport per nameserver (they share the timeout, so the count matters).</param>
    public LocalTransport(string resolvConfPath, Func<IReadOnlyList<IPAddress>, IReadOnlyList<IDnsTransport>> create, TimeSpan timeout)
    {
        _path = resolvConfPath;
        _create = create;
        _timeout = timeout;
        var nameservers = ReadResolvConf(resolvConfPath);
        _state = new State(nameservers, create(nameservers));
    }

    public bool ZeroId => false;

    /// <summary>The nameservers in use, in order.</summary>
    public IReadOnlyList<IPAddress> Nameservers => _state.Addresses;

    public string ResolvConfPath => _path;

    public async ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken ct)
    {
        var nameservers = _state.Transports; // one snapshot per exchange: a reload does not switch a query in flight
        var share = _timeout / Math.Max(1, nameservers.Count);
        Exception? last = null;
        for (int i = 0; i < nameservers.Count; i++)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (i < nameservers.Count - 1) attempt.CancelAfter(share);
            try
            {
                return await nameservers[i].ExchangeAsync(query, response, attempt.Token);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                last = e;
            }
        }
        ct.ThrowIfCancellationRequested();
        throw last ?? new DnsUpstreamException("no nameserver in resolv.conf");
    }

    /// <summary>
    /// Reads resolv.conf again (called when it changed on disk) and swaps the nameservers at once.
    /// A file that cannot be read or has no nameserver line (caught mid-write) keeps the current ones:
    /// returns false with the problem. Exchanges in flight finish with the nameservers they started with.
    /// </summary>
    public bool Reload(out string? problem)
    {
        if (!TryReadResolvConf(_path, out var nameservers, out problem)) return false;
        var old = _state;
        if (nameservers.SequenceEqual(old.Addresses)) return true;
        _state = new State(nameservers, _create(nameservers));
        // The old transports hold no socket between queries (only an idle TCP fallback may be pooled);
        // an exchange still using one finishes on its own socket.
        foreach (var t in old.Transports) _ = t.DisposeAsync().AsTask();
        return true;
    }

    /// <summary>"nameserver ADDR" lines; glibc's default (127.0.0.1) when there are none or the file is unreadable.</summary>
    public static IReadOnlyList<IPAddress> ReadResolvConf(string path) =>
        TryReadResolvConf(path, out var nameservers, out _) ? nameservers : [IPAddress.Loopback];

    /// <summary>"nameserver ADDR" lines; false (with the problem) when the file cannot be read or names none.</summary>
    public static bool TryReadResolvConf(string path, out IReadOnlyList<IPAddress> nameservers, out string? problem)
    {
        var result = new List<IPAddress>();
        nameservers = result;
        if (path.Length == 0)
        {
            problem = "this platform gives the engine no resolver settings";
            return false;
        }
        try
        {
            foreach (string line in File.ReadLines(path))
            {
                var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 2 && fields[0] == "nameserver")
                {
                    string text = fields[1];
                    int zone = text.IndexOf('%'); // fe80::1%eth0: the zone needs an interface index Sluice does not track
                    if (zone >= 0) text = text[..zone];
                    if (IPAddress.TryParse(text, out var ip)) result.Add(ip);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot read {path}: {e.Message}";
            return false;
        }
        problem = result.Count == 0 ? $"{path} has no usable nameserver line" : null;
        return result.Count > 0;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in _state.Transports) await n.DisposeAsync();
    }

    /// <summary>The nameservers and their transports, swapped as one.</summary>
    private sealed record State(IReadOnlyList<IPAddress> Addresses, IReadOnlyList<IDnsTransport> Transports);
}
