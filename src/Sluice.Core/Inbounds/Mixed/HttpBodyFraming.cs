namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// Where an HTTP/1.x message body ends (RFC 9112 §6.3), found by scanning the bytes as they arrive so a proxy can
/// copy them on verbatim, as many at once as a read brought: a length, chunked coding (§7.1: size lines, data, the
/// last chunk and trailer lines), or the end of the connection.
/// </summary>
internal sealed class HttpBodyFraming
{
    // A chunk size above this is an error rather than a number to wait for (1 TiB; sizes are hex).
    private const long MaxChunk = 1L << 40;

    private enum State { Length, UntilClose, SizeLine, SizeExtension, Data, DataEnd, TrailerStart, TrailerLine, Done }

    private State _state;
    private long _remaining;
    private bool _sizeDigits;

    private HttpBodyFraming(State state, long remaining)
    {
        _state = state;
        _remaining = remaining;
        if (state == State.Length && remaining == 0) _state = State.Done;
    }

    public static HttpBodyFraming Length(long length) => new(State.Length, length);

    public static HttpBodyFraming Chunked() => new(State.SizeLine, 0);

    public static HttpBodyFraming UntilClose() => new(State.UntilClose, 0);

    /// <summary>The body ends only when the connection does.</summary>
    public bool EndsAtClose => _state == State.UntilClose;

    public bool Done => _state == State.Done;

    /// <summary>How many of <paramref name="available"/>'s bytes belong to the body; <see cref="Done"/> once its end was seen.</summary>
    /// <exception cref="HttpMessageException">The chunked coding is malformed.</exception>
    public int Take(ReadOnlySpan<byte> available)
    {
        int i = 0;
        while (i < available.Length && _state != State.Done)
        {
            switch (_state)
            {
                case State.UntilClose:
                    return available.Length;
                case State.Length:
                case State.Data:
                    int n = (int)Math.Min(_remaining, available.Length - i);
                    i += n;
                    _remaining -= n;
                    if (_remaining == 0) _state = _state == State.Length ? State.Done : State.DataEnd;
                    continue;
            }
            byte b = available[i++];
            switch (_state)
            {
                case State.SizeLine when HexValue(b) is int digit and >= 0:
                    _remaining = _remaining * 16 + digit;
                    _sizeDigits = true;
                    if (_remaining > MaxChunk) throw new HttpMessageException("a chunk size above 1 TiB");
                    break;
                case State.SizeLine when b is (byte)';' or (byte)' ' or (byte)'\t':
                    _state = State.SizeExtension;
                    break;
                case State.SizeLine or State.SizeExtension when b == '\n':
                    if (!_sizeDigits) throw new HttpMessageException("a chunk size line without a size");
                    _sizeDigits = false;
                    _state = _remaining == 0 ? State.TrailerStart : State.Data;
                    break;
                case State.SizeLine when b != '\r':
                    throw new HttpMessageException($"a chunk size line holds byte 0x{b:x2}");
                case State.DataEnd when b == '\n':
                    _state = State.SizeLine;
                    break;
                case State.DataEnd when b != '\r':
                    throw new HttpMessageException("chunk data does not end with CRLF where its size says");
                case State.TrailerStart when b == '\n':
                    _state = State.Done;
                    break;
                case State.TrailerStart when b != '\r':
                    _state = State.TrailerLine;
                    break;
                case State.TrailerLine when b == '\n':
                    _state = State.TrailerStart;
                    break;
            }
        }
        return i;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
