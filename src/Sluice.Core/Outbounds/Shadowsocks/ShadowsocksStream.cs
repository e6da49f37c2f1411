using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// One Shadowsocks AEAD TCP connection (SIP004 "TCP"):
/// 1. up: [salt][sealed 2-byte length][sealed payload]…, the first payload being the target address;
/// 2. down: the server's own salt, then the same chunks; its subkey is derived when the salt arrives;
/// 3. payloads are at most 0x3FFF bytes; each chunk costs 34 bytes of length and tags.
/// It wraps the connection to the server (a socket's <see cref="NetworkStream"/>, or a stream dialed
/// through a detour) and passes half-close (FIN to the server, which passes it on to the target) and
/// abort down to it (<see cref="IConnectionStream"/>). Buffers are fixed per connection (no allocation per
/// chunk) and rented from the shared pool (no 150 KB of fresh arrays per connection). They go back when
/// the stream is disposed AND no read or write is still running: a reference count (the owner's one,
/// plus one per operation in flight) guards them, because the relay or a group may dispose the stream
/// from another thread while a pump is inside a read.
/// </summary>
internal sealed partial class ShadowsocksStream : Stream, IConnectionStream
{
    public const int MaxPayload = 0x3FFF;
    private const int ChunkOverhead = 2 + 2 * ShadowsocksMethod.TagSize;
    private const int WriteSlice = 64 * 1024;
    private const int ReadBufferSize = 64 * 1024;

    private readonly Stream _transport;
    private readonly ShadowsocksMethod _method;
    private readonly byte[] _masterKey;
    private readonly AeadCipher _encoder;
    private readonly byte[] _writeBuffer;
    private readonly byte[] _in = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
    private readonly byte[] _plain = ArrayPool<byte>.Shared.Rent(MaxPayload);
    private readonly ILogger _logger;
    private readonly string _who;
    private readonly Destination _target; // formatted only when a message needs it
    private AeadCipher? _decoder;
    private int _inStart, _inEnd;
    private int _plainStart, _plainEnd;
    private int _pendingLength = -1;
    private long _received;
    private int _pendingPrefix; // salt, then the sealed header, waiting at the start of _writeBuffer
    private readonly object _prefixLock = new();
    private volatile bool _prefixSent;
    private readonly TimeSpan _answerTimeout;
    private Timer? _answerTimer;
    private int _references = 1; // the owner's; +1 per read or write in flight; 0 = buffers returned
    private int _ownerReleased;

    /// <param name="transport">The connection to the server; owned (disposed with this stream).</param>
    public ShadowsocksStream(Stream transport, ShadowsocksMethod method, byte[] masterKey, ILogger logger, string who, Destination target, TimeSpan answerTimeout)
    {
        _transport = transport;
        _answerTimeout = answerTimeout;
        _method = method;
        _masterKey = masterKey;
        _logger = logger;
        _who = who;
        _target = target;
        _writeBuffer = ArrayPool<byte>.Shared.Rent(method.SaltSize + WriteSlice + (WriteSlice / MaxPayload + 2) * ChunkOverhead + 512);
        Span<byte> salt = _writeBuffer.AsSpan(0, method.SaltSize);
        RandomNumberGenerator.Fill(salt);
        _encoder = method.Subkey(masterKey, salt);
        _pendingPrefix = method.SaltSize;
    }

    /// <summary>
    /// Seals the target header behind the salt without sending it: the app's first bytes usually follow
    /// at once and go in the same segment (one send here, one read and one decrypt pass at the server).
    /// A read before any write (a server-speaks-first protocol: the relay starts reading the server
    /// when the app has nothing to say yet) or a half-close sends the salt and header alone, so the
    /// server dials the target and its greeting can come back. No timer: a per-connection timer cost a
    /// timer-thread wake-up per connection and delayed such greetings by its period.
    /// </summary>
    public void StageHeader(ReadOnlySpan<byte> header) => _pendingPrefix += Seal(header, _writeBuffer.AsSpan(_pendingPrefix));

    /// <summary>
    /// The length of the salt-and-header prefix at the start of the write buffer that the caller must
    /// send before its data, or 0 once it has gone. Set only after the flush timer's send has finished,
    /// so a writer never overwrites a prefix still being sent.
    /// </summary>
    private int ClaimPrefix()
    {
        if (_prefixSent) return 0;
        lock (_prefixLock)
        {
            if (_prefixSent) return 0;
            _prefixSent = true;
            return _pendingPrefix;
        }
    }

    private void FlushHeader()
    {
        if (_prefixSent || Volatile.Read(ref _ownerReleased) != 0) return;
        try
        {
            Enter();
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        try
        {
            lock (_prefixLock)
            {
                if (_prefixSent) return;
                _transport.Write(_writeBuffer.AsSpan(0, _pendingPrefix));
                _prefixSent = true;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The connection is gone; the relay sees that on its own reads.
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Takes a reference for one operation; throws when the stream is disposed and its buffers are gone.</summary>
    private void Enter()
    {
        int seen;
        do
        {
            seen = Volatile.Read(ref _references);
            ObjectDisposedException.ThrowIf(seen == 0 || Volatile.Read(ref _ownerReleased) != 0, this);
        }
        while (Interlocked.CompareExchange(ref _references, seen + 1, seen) != seen);
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        _encoder.Dispose();
        _decoder?.Dispose();
        ArrayPool<byte>.Shared.Return(_in);
        ArrayPool<byte>.Shared.Return(_plain);
        ArrayPool<byte>.Shared.Return(_writeBuffer);
    }

    /// <summary>Seals <paramref name="data"/> as chunks into <paramref name="output"/>; returns bytes written.</summary>
    private int Seal(ReadOnlySpan<byte> data, Span<byte> output)
    {
        int written = 0;
        Span<byte> length = stackalloc byte[2];
        while (!data.IsEmpty)
        {
            int take = Math.Min(data.Length, MaxPayload);
            BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)take);
            _encoder.Seal(length, output[written..]);
            written += 2 + ShadowsocksMethod.TagSize;
            _encoder.Seal(data[..take], output[written..]);
            written += take + ShadowsocksMethod.TagSize;
            data = data[take..];
        }
        return written;
    }

    /// <summary>
    /// An AEAD server that cannot decrypt a connection stays silent and keeps it open (shadowsocks-libev
    /// drains it until its own timeout, so probes learn nothing). The only sign of a wrong password is
    /// silence, so a connection whose server says nothing within <see cref="_answerTimeout"/> of the
    /// app's first bytes is closed with a reason in the log instead of hanging.
    /// </summary>
    private void ArmAnswerTimer()
    {
        if (_answerTimer is not null || _answerTimeout <= TimeSpan.Zero || Volatile.Read(ref _received) > 0) return;
        _answerTimer = new Timer(static state => ((ShadowsocksStream)state!).OnAnswerTimeout(), this, _answerTimeout, Timeout.InfiniteTimeSpan);
    }

    private void OnAnswerTimeout()
    {
        if (Volatile.Read(ref _received) > 0) return;
        Fail($"no answer from the server within {_answerTimeout.TotalSeconds:0.#} s of the request for {_target}: wrong password or method? (an AEAD server stays silent when it cannot decrypt)");
        _transport.Dispose();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Enter();
        try
        {
            await WriteCoreAsync(buffer, cancellationToken);
        }
        finally
        {
            Exit();
        }
    }

    private async ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        ArmAnswerTimer();
        while (!buffer.IsEmpty)
        {
            int take = Math.Min(buffer.Length, WriteSlice);
            int n = ClaimPrefix();
            n += Seal(buffer.Span[..take], _writeBuffer.AsSpan(n));
            await _transport.WriteAsync(_writeBuffer.AsMemory(0, n), cancellationToken);
            buffer = buffer[take..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Enter();
        try
        {
            WriteCore(buffer);
        }
        finally
        {
            Exit();
        }
    }

    private void WriteCore(ReadOnlySpan<byte> buffer)
    {
        ArmAnswerTimer();
        while (!buffer.IsEmpty)
        {
            int take = Math.Min(buffer.Length, WriteSlice);
            int n = ClaimPrefix();
            n += Seal(buffer[..take], _writeBuffer.AsSpan(n));
            _transport.Write(_writeBuffer.AsSpan(0, n));
            buffer = buffer[take..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) =>
        TaskToAsyncResult.Begin(WriteAsync(buffer, offset, count, CancellationToken.None), callback, state);

    public override void EndWrite(IAsyncResult asyncResult) => TaskToAsyncResult.End(asyncResult);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return 0;
        Enter();
        try
        {
            if (!_prefixSent) FlushHeader(); // the server cannot answer before it knows the target
            return await ReadCoreAsync(buffer, cancellationToken);
        }
        finally
        {
            Exit();
        }
    }

    private async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_plainEnd > _plainStart) return TakePlain(buffer.Span);
        if (_decoder is null)
        {
            if (!await FillAsync(_method.SaltSize, cancellationToken))
                throw Fail(_received == 0
                    ? $"the server closed the connection without answering {_target}: wrong password or method, or the server cannot reach the target"
                    : "the server closed the connection inside its salt");
            _decoder = _method.Subkey(_masterKey, _in.AsSpan(_inStart, _method.SaltSize));
            _inStart += _method.SaltSize;
        }
        if (_pendingLength < 0)
        {
            if (!await FillAsync(2 + ShadowsocksMethod.TagSize, cancellationToken))
            {
                if (_inEnd == _inStart) return 0; // a clean end between chunks
                throw Fail("the server closed the connection inside a chunk");
            }
            Span<byte> length = stackalloc byte[2];
            if (!_decoder.Open(_in.AsSpan(_inStart, 2 + ShadowsocksMethod.TagSize), length))
                throw Fail($"cannot decrypt the server's answer for {_target}: wrong password or method");
            _inStart += 2 + ShadowsocksMethod.TagSize;
            _pendingLength = BinaryPrimitives.ReadUInt16BigEndian(length) & MaxPayload;
        }
        int sealedLength = _pendingLength + ShadowsocksMethod.TagSize;
        if (!await FillAsync(sealedLength, cancellationToken)) throw Fail("the server closed the connection inside a chunk");
        int payload = _pendingLength;
        var source = _in.AsSpan(_inStart, sealedLength);
        bool direct = buffer.Length >= payload;
        if (!_decoder.Open(source, direct ? buffer.Span : _plain))
            throw Fail($"a chunk from the server for {_target} does not authenticate");
        _inStart += sealedLength;
        _pendingLength = -1;
        if (direct) return payload;
        _plainStart = 0;
        _plainEnd = payload;
        return TakePlain(buffer.Span);
    }

    private int TakePlain(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _plainEnd - _plainStart);
        _plain.AsSpan(_plainStart, n).CopyTo(destination);
        _plainStart += n;
        return n;
    }

    /// <summary>Makes at least <paramref name="need"/> bytes available at _inStart; false at end of stream first.</summary>
    private async ValueTask<bool> FillAsync(int need, CancellationToken cancellationToken)
    {
        if (_inEnd - _inStart >= need) return true;
        if (_in.Length - _inStart < need)
        {
            Buffer.BlockCopy(_in, _inStart, _in, 0, _inEnd - _inStart);
            _inEnd -= _inStart;
            _inStart = 0;
        }
        while (_inEnd - _inStart < need)
        {
            int n = await _transport.ReadAsync(_in.AsMemory(_inEnd), cancellationToken);
            if (n == 0) return false;
            _inEnd += n;
            if (_received == 0) _answerTimer?.Dispose();
            Volatile.Write(ref _received, _received + n);
        }
        return true;
    }

    private IOException Fail(string reason)
    {
        LogFailed(_logger, _who, reason);
        return new IOException($"{_who}: {reason}");
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(Span<byte> buffer)
    {
        byte[] temp = new byte[buffer.Length];
        int n = ReadAsync(temp, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        temp.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

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

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// FIN to the server after the staged header (an app that half-closes before saying anything still
    /// gets its target dialed), passed down to the socket at the bottom.
    /// </summary>
    public void ShutdownWrite()
    {
        FlushHeader();
        StreamEnds.ShutdownWrite(_transport);
    }

    public void Abort()
    {
        StreamEnds.Abort(_transport);
        Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _answerTimer?.Dispose();
            _transport.Dispose(); // closes the connection first, so a read or write in flight ends now
            if (Interlocked.Exchange(ref _ownerReleased, 1) == 0) Exit();
        }
        base.Dispose(disposing);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: {Reason}; connection closed")]
    private static partial void LogFailed(ILogger logger, string who, string reason);
}
