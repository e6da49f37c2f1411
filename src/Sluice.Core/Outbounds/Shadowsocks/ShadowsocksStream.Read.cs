using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>The read side: the server's salt and (2022) response header, then chunks opened into plaintext.</summary>
internal sealed partial class ShadowsocksStream
{
    /// <summary>
    /// Reads plaintext. A zero-byte read is a wait: it completes when a read will find bytes (some are
    /// decoded or buffered here, or the transport has some), holding no buffer while it waits.
    /// </summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Enter();
        try
        {
            if (!_prefixSent) FlushHeader(); // the server cannot answer before it knows the target
            if (buffer.IsEmpty)
            {
                if (_plainEnd == _plainStart && _inEnd == _inStart && WaitsWithoutBuffer)
                    await StreamEnds.WaitReadableAsync(_transport, cancellationToken);
                return 0;
            }
            int n = await ReadCoreAsync(buffer, cancellationToken);
            if (_inEnd == _inStart) ReturnInput(); // drained: an idle stream holds no buffer
            if (_plainEnd == _plainStart) ReturnPlain();
            return n;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>True when the transport waits in a zero-byte read (a socket), so this stream's zero-byte read can too.</summary>
    public bool WaitsWithoutBuffer => StreamEnds.WaitsWithoutBuffer(_transport);

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
        if (_requestSalt is not null && !_responseHeaderRead)
        {
            await ReadResponseHeaderAsync(cancellationToken);
        }
        while (true)
        {
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
                _pendingLength = BinaryPrimitives.ReadUInt16BigEndian(length) & _maxPayload;
            }
            int sealedLength = _pendingLength + ShadowsocksMethod.TagSize;
            if (!await FillAsync(sealedLength, cancellationToken)) throw Fail("the server closed the connection inside a chunk");
            int payload = _pendingLength;
            var source = _in.AsSpan(_inStart, sealedLength);
            bool direct = buffer.Length >= payload;
            if (!direct) _plain ??= ArrayPool<byte>.Shared.Rent(_maxPayload);
            if (!_decoder.Open(source, direct ? buffer.Span : _plain))
                throw Fail($"a chunk from the server for {_target} does not authenticate");
            _inStart += sealedLength;
            _pendingLength = -1;
            if (payload == 0) continue; // an empty chunk is not the end of the stream
            if (direct) return payload;
            _plainStart = 0;
            _plainEnd = payload;
            return TakePlain(buffer.Span);
        }
    }

    /// <summary>SIP022: the response's fixed header, which also gives the first chunk's length.</summary>
    private async ValueTask ReadResponseHeaderAsync(CancellationToken cancellationToken)
    {
        int length = Shadowsocks2022Headers.ResponseFixedLength(_method.SaltSize);
        if (!await FillAsync(length + ShadowsocksMethod.TagSize, cancellationToken))
            throw Fail($"the server closed the connection inside its response header for {_target}");
        Span<byte> header = stackalloc byte[length];
        if (!_decoder!.Open(_in.AsSpan(_inStart, length + ShadowsocksMethod.TagSize), header))
            throw Fail($"cannot decrypt the server's answer for {_target}: wrong key or method");
        _inStart += length + ShadowsocksMethod.TagSize;
        string? problem = Shadowsocks2022Headers.CheckResponse(header, _requestSalt, _clock.GetUtcNow().ToUnixTimeSeconds(), out int first);
        if (problem is not null) throw Fail(problem);
        _responseHeaderRead = true;
        _pendingLength = first;
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
        _in ??= ArrayPool<byte>.Shared.Rent(_inSize);
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
            if (_received == 0) _deadline.Answered();
            Volatile.Write(ref _received, _received + n);
        }
        return true;
    }
}
