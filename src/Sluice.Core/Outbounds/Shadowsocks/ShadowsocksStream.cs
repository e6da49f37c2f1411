using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// One Shadowsocks AEAD TCP connection (SIP004 "TCP", and SIP022 §3.1 for the 2022 methods):
/// 1. up: [salt][sealed 2-byte length][sealed payload]…, the first payload being the target address;
///    2022: [salt][identity headers][sealed fixed header][sealed variable header: address, padding], then chunks;
/// 2. down: the server's own salt, then the same chunks; its subkey is derived when the salt arrives;
///    2022: the salt, then a sealed fixed header (type, timestamp, our request salt, first chunk length);
/// 3. payloads are at most 0x3FFF bytes (2022: 0xFFFF); each chunk costs 34 bytes of length and tags.
/// It wraps the connection to the server (a socket's <see cref="NetworkStream"/>, or a stream dialed
/// through a detour) and passes half-close (FIN to the server, which passes it on to the target) and
/// abort down to it (<see cref="IConnectionStream"/>). Buffers come from the shared pool only while
/// bytes are in flight (nothing is allocated per chunk, and an idle connection holds none): a
/// relay's buffer is sealed in place and sent from it (<see cref="IFramedWriteStream"/>); any other write rents
/// a sealing buffer sized to what it writes (at most 128 KiB) for the write; the read side rents its input and plaintext buffers when a read
/// needs them and returns them once they are drained; the salt and staged header wait in a small buffer
/// until they are sent. A zero-byte read waits on the transport without a buffer
/// (<see cref="IReadinessStream"/>), as the relay's socket pumps do. Everything still held goes back when
/// the stream is disposed AND no read or write is still running: a reference count (the owner's one,
/// plus one per operation in flight) guards it, because the relay or a group may dispose the stream
/// from another thread while a pump is inside a read.
/// </summary>
internal sealed partial class ShadowsocksStream : ConnectionStream, IReadinessStream, IFramedWriteStream
{
    public const int MaxPayload = 0x3FFF;
    private const int ChunkOverhead = 2 + 2 * ShadowsocksMethod.TagSize;
    private const int WriteBufferLimit = 128 * 1024; // a write rents at most this much and seals in slices of whole chunks that fit
    private const int ReadBufferSize = 64 * 1024;
    private const int HeaderRoom = 1300; // the largest request header: 2022's fixed + variable (address, 900 B padding) with tags

    private readonly Stream _transport;
    private readonly ShadowsocksMethod _method;
    private readonly byte[] _masterKey;
    private readonly AeadCipher _encoder;
    private byte[]? _prefix; // the salt, identity headers and staged request header until they are sent
    private byte[]? _in;
    private byte[]? _plain;
    private readonly int _inSize;
    private readonly int _maxPayload;
    private readonly TimeProvider _clock;
    private readonly byte[]? _requestSalt; // 2022: the response must name it
    private bool _responseHeaderRead;
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
    private readonly AnswerDeadline _deadline;
    private int _references = 1; // the owner's; +1 per read or write in flight; 0 = buffers returned
    private int _ownerReleased;

    /// <param name="transport">The connection to the server; owned (disposed with this stream).</param>
    /// <param name="masterKey">The AEAD master key; for the 2022 methods the user PSK.</param>
    /// <param name="keys2022">The 2022 keys (identity headers); null for the AEAD methods.</param>
    /// <param name="clock">The 2022 headers' timestamps; default the system clock.</param>
    /// <param name="salt">The request salt; default random. Only known-answer tests fix it.</param>
    public ShadowsocksStream(Stream transport, ShadowsocksMethod method, byte[] masterKey, ILogger logger, string who, Destination target, TimeSpan answerTimeout,
        Shadowsocks2022Keys? keys2022 = null, TimeProvider? clock = null, ReadOnlySpan<byte> salt = default)
    {
        _clock = clock ?? TimeProvider.System;
        _maxPayload = method.MaxChunkPayload;
        _inSize = method.Is2022 ? ReadBufferSize + 1024 : ReadBufferSize;
        _transport = transport;
        _deadline = new AnswerDeadline(answerTimeout, _clock, OnSilence);
        _method = method;
        _masterKey = masterKey;
        _logger = logger;
        _who = who;
        _target = target;
        int identities = keys2022?.Identities.Length ?? 0;
        _prefix = ArrayPool<byte>.Shared.Rent(method.SaltSize + identities * Shadowsocks2022Keys.IdentityHeaderSize + HeaderRoom);
        Span<byte> requestSalt = _prefix.AsSpan(0, method.SaltSize);
        if (salt.Length == method.SaltSize) salt.CopyTo(requestSalt);
        else RandomNumberGenerator.Fill(requestSalt);
        _encoder = method.Subkey(masterKey, requestSalt);
        _pendingPrefix = method.SaltSize;
        if (method.Is2022)
        {
            _requestSalt = requestSalt.ToArray();
            if (keys2022 is not null) _pendingPrefix += keys2022.WriteTcpIdentityHeaders(requestSalt, _prefix.AsSpan(_pendingPrefix));
        }
    }

    /// <summary>
    /// Seals the target header behind the salt without sending it: the app's first bytes usually follow
    /// at once and go in the same segment (one send here, one read and one decrypt pass at the server).
    /// A read before any write (a server-speaks-first protocol: the relay starts reading the server
    /// when the app has nothing to say yet) or a half-close sends the salt and header alone, so the
    /// server dials the target and its greeting can come back. No timer: a per-connection timer cost a
    /// timer-thread wake-up per connection and delayed such greetings by its period.
    /// </summary>
    public void StageHeader(ReadOnlySpan<byte> header) => _pendingPrefix += _requestSalt is null
        ? Seal(header, _prefix.AsSpan(_pendingPrefix))
        : Shadowsocks2022Headers.SealRequest(_encoder, header, default, _clock.GetUtcNow().ToUnixTimeSeconds(), _prefix.AsSpan(_pendingPrefix));

    /// <summary>
    /// Copies the salt-and-header prefix, which the caller must send before its data, to the start of
    /// <paramref name="output"/> and returns its length, or 0 once it has gone. Set only after a
    /// header-only send has finished, so the prefix is never claimed twice.
    /// </summary>
    private int ClaimPrefix(Span<byte> output)
    {
        if (_prefixSent) return 0;
        lock (_prefixLock)
        {
            if (_prefixSent) return 0;
            _prefixSent = true;
            _prefix.AsSpan(0, _pendingPrefix).CopyTo(output);
            ReturnPrefix();
            return _pendingPrefix;
        }
    }

    /// <summary>Bytes a write must rent for its prefix while the prefix has not gone.</summary>
    private int PrefixRoom => _prefixSent ? 0 : _pendingPrefix;

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
                _transport.Write(_prefix.AsSpan(0, _pendingPrefix));
                _prefixSent = true;
                ReturnPrefix();
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

    /// <summary>Seals <paramref name="data"/> as chunks into <paramref name="output"/>; returns bytes written.</summary>
    private int Seal(ReadOnlySpan<byte> data, Span<byte> output)
    {
        int written = 0;
        Span<byte> length = stackalloc byte[2];
        while (!data.IsEmpty)
        {
            int take = Math.Min(data.Length, _maxPayload);
            BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)take);
            _encoder.Seal(length, output[written..]);
            written += 2 + ShadowsocksMethod.TagSize;
            _encoder.Seal(data[..take], output[written..]);
            written += take + ShadowsocksMethod.TagSize;
            data = data[take..];
        }
        return written;
    }

    /// <summary>The sealed size of <paramref name="payload"/> plaintext bytes.</summary>
    private int SealedLength(int payload) => payload + (payload + _maxPayload - 1) / _maxPayload * ChunkOverhead;

    /// <summary>The most plaintext whose chunks fit in <paramref name="bytes"/>: whole chunks, then a last one that fills the rest.</summary>
    public int PayloadFitting(int bytes)
    {
        int whole = bytes / (_maxPayload + ChunkOverhead);
        int rest = bytes % (_maxPayload + ChunkOverhead) - ChunkOverhead;
        return whole * _maxPayload + Math.Max(rest, 0);
    }

    /// <summary>
    /// Where a read framed in place goes: a buffer that holds one chunk has the chunk's sealed length (18 bytes) before
    /// the payload and its tag (16) after it; a larger one has room for every chunk's 34 bytes before the payload,
    /// and each chunk is moved down into its place as it is sealed (<see cref="SealChunksInPlace"/>).
    /// </summary>
    public bool FitsInPlace(int bufferLength, out int offset, out int payload)
    {
        offset = 2 + ShadowsocksMethod.TagSize;
        payload = bufferLength - ChunkOverhead;
        if (payload > _maxPayload)
        {
            int chunks = (bufferLength + _maxPayload + ChunkOverhead - 1) / (_maxPayload + ChunkOverhead);
            offset = chunks * ChunkOverhead;
            payload = bufferLength - offset;
        }
        return payload >= 1;
    }

    /// <summary>
    /// Seals the payload at <paramref name="offset"/> as chunks where it lies (the AEADs encrypt in place) and sends
    /// them from the start of the buffer, so a relay's busy stream holds no sealing buffer while its send waits. The
    /// first write, which carries the salt and header, takes the path that rents one (once per connection).
    /// </summary>
    public async ValueTask WriteInPlaceAsync(Memory<byte> buffer, int offset, int length, CancellationToken cancellationToken = default)
    {
        if (length <= 0) return;
        int chunks = (length + _maxPayload - 1) / _maxPayload;
        if (offset < (chunks == 1 ? 2 + ShadowsocksMethod.TagSize : chunks * ChunkOverhead) || offset + length + (chunks == 1 ? ShadowsocksMethod.TagSize : 0) > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{length} bytes at {offset} of a {buffer.Length}-byte buffer leave no room for their chunks' heads and tags");
        if (!_prefixSent)
        {
            await WriteAsync(buffer.Slice(offset, length), cancellationToken);
            return;
        }
        Enter();
        try
        {
            NoteWrite();
            int sealedLength = SealChunksInPlace(buffer.Span, offset, length);
            await _transport.WriteAsync(buffer[..sealedLength], cancellationToken);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Seals <paramref name="length"/> bytes at <paramref name="offset"/> as chunks written from the buffer's start (full
    /// chunks, then the rest, as <see cref="Seal"/> cuts them); returns their length. Chunk i moves down to
    /// i × (max + 34) + 18 from offset + i × max: with offset at least 34 per chunk, no chunk's sealed bytes reach
    /// plaintext not yet moved.
    /// </summary>
    private int SealChunksInPlace(Span<byte> buffer, int offset, int length)
    {
        int written = 0;
        while (length > 0)
        {
            int take = Math.Min(length, _maxPayload);
            var chunk = buffer.Slice(written, take + ChunkOverhead);
            if (offset != written + 2 + ShadowsocksMethod.TagSize) buffer.Slice(offset, take).CopyTo(chunk[(2 + ShadowsocksMethod.TagSize)..]);
            SealInPlace(chunk);
            written += chunk.Length;
            offset += take;
            length -= take;
        }
        return written;
    }

    /// <summary>Seals <paramref name="chunk"/>'s payload (between its 18-byte head and 16-byte tail) as one chunk, in place.</summary>
    private void SealInPlace(Span<byte> chunk)
    {
        int payload = chunk.Length - ChunkOverhead;
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)payload);
        _encoder.Seal(length, chunk[..(2 + ShadowsocksMethod.TagSize)]);
        var body = chunk[(2 + ShadowsocksMethod.TagSize)..];
        _encoder.Seal(body[..payload], body);
    }

    /// <summary>
    /// Rents the sealing buffer for a write of <paramref name="length"/> bytes: its sealed size (prefix
    /// included), at most <see cref="WriteBufferLimit"/>, and says how much plaintext each send seals: all of it
    /// when it fits, else whole chunks that fit. Slices end on chunk boundaries, so the chunks on the wire are
    /// the spec's plain cut (full chunks, then the rest) whatever the buffer: one chunk sealed at a time would
    /// give the same bytes, in more sends.
    /// </summary>
    private byte[] RentWriteBuffer(int length, out int slice)
    {
        int room = PrefixRoom;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(room + SealedLength(length), WriteBufferLimit));
        int fits = PayloadFitting(buffer.Length - room);
        slice = fits >= length ? length : fits >= _maxPayload ? fits / _maxPayload * _maxPayload : fits;
        return buffer;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return;
        Enter();
        var sealing = RentWriteBuffer(buffer.Length, out int slice);
        try
        {
            NoteWrite();
            while (!buffer.IsEmpty)
            {
                int take = Math.Min(buffer.Length, slice);
                int n = ClaimPrefix(sealing);
                n += Seal(buffer.Span[..take], sealing.AsSpan(n));
                await _transport.WriteAsync(sealing.AsMemory(0, n), cancellationToken);
                buffer = buffer[take..];
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(sealing);
            Exit();
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.IsEmpty) return;
        Enter();
        var sealing = RentWriteBuffer(buffer.Length, out int slice);
        try
        {
            NoteWrite();
            while (!buffer.IsEmpty)
            {
                int take = Math.Min(buffer.Length, slice);
                int n = ClaimPrefix(sealing);
                n += Seal(buffer[..take], sealing.AsSpan(n));
                _transport.Write(sealing.AsSpan(0, n));
                buffer = buffer[take..];
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(sealing);
            Exit();
        }
    }

    private IOException Fail(string reason)
    {
        LogFailed(_logger, _who, reason);
        return new IOException($"{_who}: {reason}");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: {Reason}; connection closed")]
    private static partial void LogFailed(ILogger logger, string who, string reason);
}
