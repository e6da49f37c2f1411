using System.Buffers;
using System.Buffers.Binary;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// TLS 1.3 records over a transport stream (RFC 8446 §5): reads whole records into a read-ahead buffer,
/// opens protected ones into a plaintext buffer and strips TLSInnerPlaintext's padding; seals outgoing data
/// in records of at most 2^14 bytes, several per transport write. Limits: a record's ciphertext is at most
/// 2^14 + 256 bytes and its plaintext at most 2^14 (record_overflow otherwise).
/// Bytes read ahead and not yet opened stay in the buffer, so Vision can take them over raw (<see cref="TakeUnread"/>).
/// The buffers are rented from the shared pool while in use and given back once drained (<see cref="ReleaseIdleBuffers"/>,
/// after each write for the sealing one): an idle connection holds none (a busy one used to keep up to 116 KiB for life).
/// A record may be staged (<see cref="Stage"/>): sealed now, sent at the front of the next write, so the client's
/// Finished and its first application data leave in one segment.
/// </summary>
internal sealed class Tls13RecordLayer(Stream transport) : IDisposable
{
    public const byte ChangeCipherSpec = 20;
    public const byte Alert = 21;
    public const byte Handshake = 22;
    public const byte ApplicationData = 23;

    public const int MaxPlaintext = 1 << 14;
    private const int HeaderLength = 5;
    private const int MaxCiphertext = MaxPlaintext + 256;
    private const int RecordsPerWrite = 4;
    private const int StagedCapacity = 256; // CCS (6) + an empty Certificate and a Finished under a key (< 100)

    // One full record and most of the next read ahead (a pool size: twice a record would round up to 64 KiB).
    private const int RawCapacity = 32 * 1024;
    // The read buffers start at what a handshake and a short exchange need and grow to their full size at the first
    // record that needs it; from then on a connection rents the full size.
    private const int InitialCapacity = 4096;

    private byte[]? _raw;
    private byte[]? _plain;
    private bool _large; // a record over InitialCapacity was read: rent full-size read buffers from now on
    private int _rawStart, _rawEnd;
    private byte[]? _staged;
    private int _stagedLength;

    public Stream Transport => transport;

    public RecordProtection? ReadKeys { get; private set; }

    public RecordProtection? WriteKeys { get; private set; }

    /// <summary>Records written under the current write keys; KeyUpdate resets it.</summary>
    public long RecordsWritten { get; private set; }

    public void SetReadKeys(RecordProtection keys)
    {
        ReadKeys?.Dispose();
        ReadKeys = keys;
    }

    public void SetWriteKeys(RecordProtection keys)
    {
        WriteKeys?.Dispose();
        WriteKeys = keys;
        RecordsWritten = 0;
    }

    /// <summary>
    /// Reads the next record; returns its content type and plaintext (valid until the next read), or type 0 at a
    /// clean end of the transport between records.
    /// </summary>
    public async ValueTask<(byte Type, Memory<byte> Content)> ReadAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(HeaderLength, cancellationToken).ConfigureAwait(false))
            return (0, Memory<byte>.Empty);
        var header = _raw!.AsSpan(_rawStart, HeaderLength);
        byte type = header[0];
        int length = BinaryPrimitives.ReadUInt16BigEndian(header[3..]);
        if (type is < ChangeCipherSpec or > ApplicationData)
            throw new TlsException($"a record of unknown type {type} (is the server speaking TLS?)", TlsAlert.UnexpectedMessage);
        if (length > MaxCiphertext) throw new TlsException($"a record of {length} bytes, over TLS's limit", TlsAlert.RecordOverflow);
        if (!await FillAsync(HeaderLength + length, cancellationToken).ConfigureAwait(false))
            throw new TlsException("the connection closed in the middle of a record", TlsAlert.DecodeError);

        var record = _raw.AsSpan(_rawStart, HeaderLength + length);
        _rawStart += HeaderLength + length;
        _plain ??= ArrayPool<byte>.Shared.Rent(_large ? MaxCiphertext : InitialCapacity);
        if (length > _plain.Length)
        {
            ArrayPool<byte>.Shared.Return(_plain);
            _plain = ArrayPool<byte>.Shared.Rent(MaxCiphertext);
            _large = true;
        }
        if (ReadKeys is null || type == ChangeCipherSpec)
        {
            if (length > MaxPlaintext) throw new TlsException($"a record of {length} bytes, over TLS's limit", TlsAlert.RecordOverflow);
            record[HeaderLength..].CopyTo(_plain);
            return (type, _plain.AsMemory(0, length));
        }
        if (type != ApplicationData) throw new TlsException($"an unprotected record of type {type} after the keys changed", TlsAlert.UnexpectedMessage);
        if (length < RecordProtection.TagLength + 1) throw new TlsException("a protected record too short to hold its tag", TlsAlert.DecodeError);
        int sealedLength = length - RecordProtection.TagLength;
        if (!ReadKeys.Open(record.Slice(HeaderLength, sealedLength), record[(HeaderLength + sealedLength)..], _plain.AsSpan(0, sealedLength), record[..HeaderLength]))
            throw new TlsException("a record failed authentication (bad_record_mac)", TlsAlert.BadRecordMac);
        int end = sealedLength;
        while (end > 0 && _plain[end - 1] == 0) end--; // TLSInnerPlaintext: content, type, zero padding
        if (end == 0) throw new TlsException("a protected record with no content type", TlsAlert.UnexpectedMessage);
        if (end - 1 > MaxPlaintext) throw new TlsException("a record whose plaintext is over TLS's limit", TlsAlert.RecordOverflow);
        return (_plain[end - 1], _plain.AsMemory(0, end - 1));
    }

    /// <summary>Writes <paramref name="content"/> as records of <paramref name="type"/>, protected once keys are set.</summary>
    public async ValueTask WriteAsync(byte type, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        byte[]? sealedRecords = null; // sized to the write (a relay's small buffer rents a small one), back to the pool after it
        try
        {
            do
            {
                int used = 0;
                int records = Math.Max(1, Math.Min(RecordsPerWrite, (content.Length + MaxPlaintext - 1) / MaxPlaintext));
                int needed = _stagedLength + Math.Min(content.Length, RecordsPerWrite * MaxPlaintext) + records * (HeaderLength + 1 + RecordProtection.TagLength);
                if (sealedRecords is null || needed > sealedRecords.Length)
                {
                    if (sealedRecords is not null) ArrayPool<byte>.Shared.Return(sealedRecords);
                    sealedRecords = null; // not returned twice if the rent below throws
                    sealedRecords = ArrayPool<byte>.Shared.Rent(needed);
                }
                if (_stagedLength > 0)
                {
                    _staged.AsSpan(0, _stagedLength).CopyTo(sealedRecords);
                    used = _stagedLength;
                    _stagedLength = 0;
                }
                for (int i = 0; i < RecordsPerWrite && (i == 0 || !content.IsEmpty); i++)
                {
                    int chunk = Math.Min(content.Length, MaxPlaintext);
                    used += Seal(type, content.Span[..chunk], sealedRecords.AsSpan(used));
                    content = content[chunk..];
                }
                await transport.WriteAsync(sealedRecords.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
            }
            while (!content.IsEmpty);
        }
        finally
        {
            // The transport's write has completed (or failed): nothing reads the buffer any more.
            if (sealedRecords is not null) ArrayPool<byte>.Shared.Return(sealedRecords);
        }
        await transport.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Seals a record under the current keys now and holds it for the front of the next write.</summary>
    public void Stage(byte type, ReadOnlySpan<byte> content)
    {
        _staged ??= new byte[StagedCapacity];
        _stagedLength += Seal(type, content, _staged.AsSpan(_stagedLength));
    }

    /// <summary>True while a staged record waits for a write.</summary>
    public bool HasStaged => _stagedLength > 0;

    /// <summary>Sends the staged records alone (before a read: the server may wait for them).</summary>
    public async ValueTask FlushStagedAsync(CancellationToken cancellationToken)
    {
        if (_stagedLength == 0) return;
        int length = _stagedLength;
        _stagedLength = 0;
        await transport.WriteAsync(_staged.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        await transport.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The bytes read from the transport but not yet taken as records; the layer forgets them.</summary>
    public ReadOnlyMemory<byte> TakeUnread()
    {
        var unread = _raw is null ? [] : _raw.AsMemory(_rawStart, _rawEnd - _rawStart).ToArray();
        _rawStart = _rawEnd = 0;
        return unread;
    }

    /// <summary>Bytes of read buffers held now (the tests' view of what an idle connection keeps).</summary>
    internal int HeldBufferBytes => (_raw?.Length ?? 0) + (_plain?.Length ?? 0);

    /// <summary>True when bytes read from the transport wait to be taken as records.</summary>
    public bool HasUnread => _rawEnd > _rawStart;

    /// <summary>
    /// Gives the read buffers back to the pool: the plaintext one always (the caller must hold no content of an earlier
    /// <see cref="ReadAsync"/>), the read-ahead one when it holds no bytes. The next read rents them again.
    /// </summary>
    public void ReleaseIdleBuffers()
    {
        if (_raw is not null && _rawStart == _rawEnd)
        {
            ArrayPool<byte>.Shared.Return(_raw);
            _raw = null;
            _rawStart = _rawEnd = 0;
        }
        if (_plain is not null)
        {
            ArrayPool<byte>.Shared.Return(_plain);
            _plain = null;
        }
    }

    private int Seal(byte type, ReadOnlySpan<byte> content, Span<byte> output)
    {
        var keys = WriteKeys;
        bool legacyHello = keys is null && type == Handshake && RecordsWritten == 0;
        output[0] = keys is null ? type : ApplicationData;
        BinaryPrimitives.WriteUInt16BigEndian(output[1..], legacyHello ? (ushort)0x0301 : (ushort)0x0303); // §5.1: 0x0301 allowed for the first ClientHello
        if (keys is null)
        {
            BinaryPrimitives.WriteUInt16BigEndian(output[3..], (ushort)content.Length);
            content.CopyTo(output[HeaderLength..]);
            RecordsWritten++;
            return HeaderLength + content.Length;
        }
        int innerLength = content.Length + 1;
        BinaryPrimitives.WriteUInt16BigEndian(output[3..], (ushort)(innerLength + RecordProtection.TagLength));
        var inner = output.Slice(HeaderLength, innerLength);
        content.CopyTo(inner);
        inner[^1] = type;
        keys.Seal(inner, inner, output.Slice(HeaderLength + innerLength, RecordProtection.TagLength), output[..HeaderLength]);
        RecordsWritten++;
        return HeaderLength + innerLength + RecordProtection.TagLength;
    }

    /// <summary>Ensures <paramref name="count"/> bytes from _rawStart are buffered; false on EOF before any of them.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (_rawEnd - _rawStart >= count) return true;
        _raw ??= ArrayPool<byte>.Shared.Rent(_large ? RawCapacity : InitialCapacity);
        if (count > _raw.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent(RawCapacity);
            Buffer.BlockCopy(_raw, _rawStart, grown, 0, _rawEnd - _rawStart);
            ArrayPool<byte>.Shared.Return(_raw);
            _raw = grown;
            _large = true;
            _rawEnd -= _rawStart;
            _rawStart = 0;
        }
        else if (_rawStart + count > _raw.Length)
        {
            Buffer.BlockCopy(_raw, _rawStart, _raw, 0, _rawEnd - _rawStart);
            _rawEnd -= _rawStart;
            _rawStart = 0;
        }
        while (_rawEnd - _rawStart < count)
        {
            int read = await transport.ReadAsync(_raw.AsMemory(_rawEnd), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (_rawEnd == _rawStart) return false;
                throw new TlsException("the connection closed in the middle of a record", TlsAlert.DecodeError);
            }
            _rawEnd += read;
        }
        return true;
    }

    public void Dispose()
    {
        ReadKeys?.Dispose();
        WriteKeys?.Dispose();
    }
}
