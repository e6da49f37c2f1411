namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// Reassembles handshake messages (type 1 byte, length 3 bytes, body) from record payloads: a message may span
/// records and a record may hold several. Bounded: a message over 256 KiB (a certificate chain far beyond any
/// real one) is refused.
/// </summary>
internal sealed class HandshakeMessageBuffer
{
    public const int MaxMessage = 256 * 1024;

    private byte[] _buffer = new byte[4096];
    private int _start, _end;

    public bool IsEmpty => _end == _start;

    public void Append(ReadOnlySpan<byte> payload)
    {
        if (_start > 0 && _end + payload.Length > _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end + payload.Length > _buffer.Length)
        {
            if (_end + payload.Length > MaxMessage + 4) throw new TlsException("a handshake message over 256 KiB", TlsAlert.RecordOverflow);
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _end + payload.Length));
        }
        payload.CopyTo(_buffer.AsSpan(_end));
        _end += payload.Length;
    }

    /// <summary>Takes one whole message (header included) if buffered.</summary>
    public bool TryTake(out byte[] message)
    {
        message = [];
        if (_end - _start < 4) return false;
        int length = (_buffer[_start + 1] << 16) | (_buffer[_start + 2] << 8) | _buffer[_start + 3];
        if (length > MaxMessage) throw new TlsException("a handshake message over 256 KiB", TlsAlert.RecordOverflow);
        if (_end - _start < 4 + length) return false;
        message = _buffer.AsSpan(_start, 4 + length).ToArray();
        _start += 4 + length;
        if (_start == _end) _start = _end = 0;
        return true;
    }
}
