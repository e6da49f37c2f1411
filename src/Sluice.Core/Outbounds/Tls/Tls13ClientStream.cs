using System.Net.Sockets;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// Sluice's own TLS 1.3 client as a <see cref="Stream"/> over a transport stream (which it owns). After the
/// handshake: application data both ways, NewSessionTicket kept for resumption when the options have a session cache
/// (else ignored), KeyUpdate answered and
/// initiated before 2^24 records under one key, close_notify sent on shutdown and read as end of stream.
/// Reads and writes may run concurrently (one reader, one writer).
/// </summary>
internal sealed class Tls13ClientStream : ConnectionStream, IReadinessStream
{
    private const byte NewSessionTicketType = 4, KeyUpdateType = 24;
    private const long RecordsBeforeKeyUpdate = 1L << 24;

    private readonly Tls13RecordLayer _records;
    private readonly HandshakeMessageBuffer _postHandshake = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly TlsTicketSink? _tickets;
    private Memory<byte> _pending;
    private bool _readClosed, _writeClosed, _readDetached;
    private int _disposed;

    private Tls13ClientStream(Tls13RecordLayer records, Tls13Session session, TlsTicketSink? tickets)
    {
        _records = records;
        _tickets = tickets;
        Session = session;
    }

    public Tls13Session Session { get; }

    /// <summary>Bytes of record buffers this connection holds now (none while idle).</summary>
    internal int HeldRecordBufferBytes => _records.HeldBufferBytes;

    /// <summary>The transport under TLS, for Vision's direct copy once it has taken the buffered bytes.</summary>
    public Stream Transport => _records.Transport;

    /// <summary>Runs the handshake within <see cref="Tls13ClientOptions.HandshakeTimeout"/>; errors name the server.</summary>
    public static async Task<Tls13ClientStream> ConnectAsync(Stream transport, Tls13ClientOptions options, CancellationToken cancellationToken)
    {
        var records = new Tls13RecordLayer(transport);
        using var timeout = new CancellationTokenSource(options.HandshakeTimeout, options.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        string failed = $"TLS handshake with {options.Endpoint} failed";
        var handshake = new Tls13ClientHandshake(records, options);
        try
        {
            var session = await handshake.RunAsync(linked.Token).ConfigureAwait(false);
            return new Tls13ClientStream(records, session, handshake.Tickets);
        }
        catch (TlsException e)
        {
            if (e.FromPeer && handshake.OfferedTicketFor is { } key) options.Sessions!.Forget(key);
            if (!e.FromPeer) await TrySendAlertAsync(records, e.Alert).ConfigureAwait(false);
            records.Dispose();
            throw new TlsException($"{failed}: {e.Message}", e.Alert, e, e.FromPeer);
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            records.Dispose();
            throw new TlsException($"{failed}: no answer within {options.HandshakeTimeout.TotalSeconds:0.#} s", TlsAlert.UserCanceled, e);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            records.Dispose();
            throw new TlsException($"{failed}: {e.Message}", TlsAlert.InternalError, e);
        }
    }

    internal static TlsException AlertReceived(ReadOnlySpan<byte> alert)
    {
        if (alert.Length != 2) return new TlsException("a malformed alert", TlsAlert.DecodeError);
        return new TlsException($"the server sent the {TlsAlert.Name(alert[1])} alert", alert[1], fromPeer: true);
    }

    /// <summary>True when the transport waits for bytes without a buffer (a socket), so this stream's zero-byte read can too.</summary>
    public bool WaitsWithoutBuffer => !_readDetached && StreamEnds.WaitsWithoutBuffer(_records.Transport);

    /// <summary>
    /// Reads application data. The record buffers go back to the pool whenever the plaintext is drained and no record
    /// waits, so a connection that idles after a transfer holds none of them. A zero-byte read is a wait without a buffer
    /// until a read will find data or the end; records that carry no data (session tickets, key updates) are taken on the
    /// way, so they cannot leave a relay waiting with its buffer.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_readDetached) throw new InvalidOperationException("the TLS reader was handed over to direct copy");
        if (_records.HasStaged) await FlushStagedAsync(cancellationToken).ConfigureAwait(false);
        if (buffer.IsEmpty)
        {
            while (_pending.IsEmpty && !_readClosed && WaitsWithoutBuffer)
            {
                if (!_records.HasUnread) await StreamEnds.WaitReadableAsync(_records.Transport, cancellationToken).ConfigureAwait(false);
                await TakeRecordAsync(cancellationToken).ConfigureAwait(false);
            }
            return 0;
        }
        while (_pending.IsEmpty)
        {
            if (_readClosed) return 0;
            await TakeRecordAsync(cancellationToken).ConfigureAwait(false);
        }
        int count = Math.Min(buffer.Length, _pending.Length);
        _pending[..count].CopyTo(buffer);
        _pending = _pending[count..];
        if (_pending.IsEmpty)
        {
            _pending = Memory<byte>.Empty; // no reference into the plaintext buffer once it goes back
            _records.ReleaseIdleBuffers();
        }
        return count;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return;
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_writeClosed) throw new IOException("the TLS stream was shut down for writing");
            if (_records.RecordsWritten >= RecordsBeforeKeyUpdate) await UpdateWriteKeysAsync(false, cancellationToken).ConfigureAwait(false);
            await _records.WriteAsync(Tls13RecordLayer.ApplicationData, buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>A read before any write: the deferred Finished goes now (the server may wait for it before it sends).</summary>
    private async ValueTask FlushStagedAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _records.FlushStagedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Vision's switch to direct copy for reading: hands over the plaintext already opened and the raw bytes
    /// read ahead but not yet opened, and retires the TLS reader; the caller reads <see cref="Transport"/> next.
    /// </summary>
    public (ReadOnlyMemory<byte> Plaintext, ReadOnlyMemory<byte> Raw) DetachReader()
    {
        var plaintext = _pending.ToArray();
        _pending = Memory<byte>.Empty;
        _readDetached = true;
        return (plaintext, _records.TakeUnread());
    }

    /// <summary>Reads one record and acts on it: application data becomes the pending plaintext; the end, close_notify or a post-handshake message are handled here.</summary>
    private async ValueTask TakeRecordAsync(CancellationToken cancellationToken)
    {
        var (type, content) = await _records.ReadAsync(cancellationToken).ConfigureAwait(false);
        switch (type)
        {
            case 0:
                _readClosed = true; // the transport ended without close_notify: a truncation, read as end of stream
                break;
            case Tls13RecordLayer.ApplicationData:
                _pending = content;
                break;
            case Tls13RecordLayer.Handshake:
                _postHandshake.Append(content.Span);
                await HandlePostHandshakeAsync(cancellationToken).ConfigureAwait(false);
                break;
            case Tls13RecordLayer.Alert when content.Length == 2 && content.Span[1] == TlsAlert.CloseNotify:
                _readClosed = true;
                break;
            case Tls13RecordLayer.Alert:
                throw AlertReceived(content.Span);
            default:
                throw new TlsException($"a record of type {type} after the handshake", TlsAlert.UnexpectedMessage);
        }
        if (_pending.IsEmpty && !_records.HasUnread) _records.ReleaseIdleBuffers(); // a ticket or the end: nothing held
    }

    /// <summary>Vision's switch to direct copy for writing: no more TLS records, not even close_notify.</summary>
    public void RetireWriter()
    {
        _writeLock.Wait();
        _writeClosed = true;
        _writeLock.Release();
    }

    private async ValueTask HandlePostHandshakeAsync(CancellationToken cancellationToken)
    {
        while (_postHandshake.TryTake(out var message))
        {
            switch (message[0])
            {
                case NewSessionTicketType:
                    _tickets?.Accept(message); // without a cache (Reality, tests): not kept
                    break;
                case KeyUpdateType when message.Length == 5 && message[4] <= 1:
                    var suite = _records.ReadKeys!.Suite;
                    _records.SetReadKeys(new RecordProtection(suite, Tls13KeySchedule.NextTrafficSecret(suite, _records.ReadKeys.TrafficSecret)));
                    if (message[4] == 1)
                    {
                        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
                        try
                        {
                            if (!_writeClosed) await UpdateWriteKeysAsync(false, cancellationToken).ConfigureAwait(false);
                        }
                        finally
                        {
                            _writeLock.Release();
                        }
                    }
                    break;
                default:
                    throw new TlsException($"an unexpected handshake message {message[0]} after the handshake", TlsAlert.UnexpectedMessage);
            }
        }
    }

    /// <summary>Sends KeyUpdate under the current keys, then rolls them (§4.6.3). Called under the write lock.</summary>
    private async ValueTask UpdateWriteKeysAsync(bool requestUpdate, CancellationToken cancellationToken)
    {
        await _records.WriteAsync(Tls13RecordLayer.Handshake, new byte[] { KeyUpdateType, 0, 0, 1, requestUpdate ? (byte)1 : (byte)0 }, cancellationToken).ConfigureAwait(false);
        var keys = _records.WriteKeys!;
        _records.SetWriteKeys(new RecordProtection(keys.Suite, Tls13KeySchedule.NextTrafficSecret(keys.Suite, keys.TrafficSecret)));
    }

    /// <summary>close_notify, then FIN on the transport: the server's reads end, ours go on.</summary>
    public override void ShutdownWrite()
    {
        _writeLock.Wait();
        try
        {
            if (_writeClosed) return;
            _writeClosed = true;
            _records.WriteAsync(Tls13RecordLayer.Alert, new byte[] { 1, TlsAlert.CloseNotify }, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            _writeLock.Release();
        }
        StreamEnds.ShutdownWrite(_records.Transport);
    }

    public override void Abort()
    {
        _writeClosed = true;
        StreamEnds.Abort(_records.Transport);
        Dispose();
    }

    private static async ValueTask TrySendAlertAsync(Tls13RecordLayer records, byte alert)
    {
        try
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await records.WriteAsync(Tls13RecordLayer.Alert, new byte[] { 2, alert }, quick.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or TlsException)
        {
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            if (!_writeClosed && _writeLock.Wait(0))
            {
                _writeClosed = true;
                TrySendAlertAsync(_records, TlsAlert.CloseNotify).AsTask().GetAwaiter().GetResult();
            }
            _records.Transport.Dispose();
            _records.Dispose();
            _tickets?.Forget();
        }
        base.Dispose(disposing);
    }

}
