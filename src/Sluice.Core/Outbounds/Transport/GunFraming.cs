using System.Buffers.Binary;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// V2Ray's gun messages: each is a gRPC message (a 1-byte compressed flag, a 4-byte big-endian length; gRPC over
/// HTTP/2 spec "Length-Prefixed-Message") holding the protobuf <c>Hunk { bytes data = 1; }</c>. Encoding writes one
/// field 1; decoding is <see cref="GunDecoder"/>.
/// </summary>
internal static class GunFraming
{
    /// <summary>The most header bytes in front of a chunk: the 5-byte prefix, the field tag and a 5-byte varint.</summary>
    public const int MaxHeaderLength = 5 + 1 + 5;

    /// <summary>Protobuf key of field 1, wire type 2 (length-delimited).</summary>
    public const byte DataKey = (1 << 3) | 2;

    /// <summary>Writes the header of a message carrying <paramref name="dataLength"/> bytes; returns its length.</summary>
    public static int WriteHeader(Span<byte> destination, int dataLength)
    {
        int varint = VarintLength((uint)dataLength);
        destination[0] = 0; // not compressed
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)(1 + varint + dataLength));
        destination[5] = DataKey;
        uint v = (uint)dataLength;
        int at = 6;
        while (v >= 0x80)
        {
            destination[at++] = (byte)(v | 0x80);
            v >>= 7;
        }
        destination[at++] = (byte)v;
        return at;
    }

    public static int VarintLength(uint value)
    {
        int n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }
        return n;
    }
}

/// <summary>
/// Decodes gun messages from a server, in pieces as they arrive (prefix, keys, lengths and data may each be cut at
/// any byte), without buffering a message: the data bytes of field 1 are copied out as they come; other fields are
/// skipped (Xray's multi mode repeats field 1, which concatenates). A compressed message, a length over the bound, a
/// field running past its message or a malformed varint is an <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class GunDecoder(int maxMessage)
{
    private enum State { Prefix, Key, Length, Data, SkipBytes, SkipVarint }

    private State _state = State.Prefix;
    private readonly byte[] _prefix = new byte[5];
    private int _prefixFilled;
    private long _messageLeft; // bytes of the current message not yet consumed
    private ulong _varint;
    private int _varintShift;
    private long _fieldLeft; // bytes of the current data or skipped field
    private bool _fieldIsData;

    /// <summary>True between messages: the stream may end here.</summary>
    public bool AtMessageBoundary => _state == State.Prefix && _prefixFilled == 0;

    /// <summary>
    /// Consumes bytes of <paramref name="input"/> and copies data bytes into <paramref name="output"/> (which may be the
    /// same memory as the input at or before the consumed position); returns how many input bytes it consumed. It stops
    /// when the input is used up or the output is full.
    /// </summary>
    public int Decode(ReadOnlySpan<byte> input, Span<byte> output, out int written)
    {
        int at = 0;
        written = 0;
        while (at < input.Length)
        {
            switch (_state)
            {
                case State.Prefix:
                {
                    int n = Math.Min(5 - _prefixFilled, input.Length - at);
                    input.Slice(at, n).CopyTo(_prefix.AsSpan(_prefixFilled));
                    _prefixFilled += n;
                    at += n;
                    if (_prefixFilled < 5) break;
                    _prefixFilled = 0;
                    if (_prefix[0] != 0) throw new InvalidDataException($"gRPC: the server sent a {(_prefix[0] == 1 ? "compressed" : "malformed")} message (flag {_prefix[0]}); gun messages are never compressed");
                    uint length = BinaryPrimitives.ReadUInt32BigEndian(_prefix.AsSpan(1));
                    if (length > maxMessage) throw new InvalidDataException($"gRPC: the server announced a message of {length} bytes, more than the {maxMessage}-byte limit");
                    _messageLeft = length;
                    if (length > 0) StartVarint(State.Key);
                    break;
                }
                case State.Key or State.Length or State.SkipVarint:
                {
                    if (_messageLeft == 0) throw new InvalidDataException("gRPC: a Hunk field runs past its message");
                    byte b = input[at++];
                    _messageLeft--;
                    if (_varintShift >= 64 || (_varintShift == 63 && b > 1)) throw new InvalidDataException("gRPC: a protobuf varint in a Hunk is too long");
                    _varint |= (ulong)(b & 0x7f) << _varintShift;
                    _varintShift += 7;
                    if ((b & 0x80) != 0) break;
                    VarintDone();
                    break;
                }
                case State.Data or State.SkipBytes:
                {
                    int n = (int)Math.Min(_fieldLeft, input.Length - at);
                    if (_state == State.Data)
                    {
                        n = Math.Min(n, output.Length - written);
                        if (n == 0) return at;
                        input.Slice(at, n).CopyTo(output[written..]);
                        written += n;
                    }
                    at += n;
                    _fieldLeft -= n;
                    _messageLeft -= n;
                    if (_fieldLeft == 0) NextField();
                    break;
                }
            }
        }
        return at;
    }

    private void StartVarint(State state)
    {
        _state = state;
        _varint = 0;
        _varintShift = 0;
    }

    private void VarintDone()
    {
        switch (_state)
        {
            case State.Key:
                int wire = (int)(_varint & 7);
                ulong field = _varint >> 3;
                if (field == 0) throw new InvalidDataException("gRPC: a Hunk field has number 0");
                switch (wire)
                {
                    case 0:
                        StartVarint(State.SkipVarint);
                        break;
                    case 1 or 5:
                        StartField(wire == 1 ? 8UL : 4UL, data: false);
                        break;
                    case 2:
                        _fieldIsData = field == 1;
                        StartVarint(State.Length);
                        break;
                    default:
                        throw new InvalidDataException($"gRPC: a Hunk field has wire type {wire}, which protobuf 3 does not use");
                }
                break;
            case State.Length:
                StartField(_varint, _fieldIsData);
                break;
            default: // SkipVarint
                NextField();
                break;
        }
    }

    private void StartField(ulong length, bool data)
    {
        if (length > (ulong)_messageLeft) throw new InvalidDataException("gRPC: a Hunk field runs past its message");
        _fieldLeft = (long)length;
        _state = data ? State.Data : State.SkipBytes;
        if (_fieldLeft == 0) NextField();
    }

    private void NextField()
    {
        if (_messageLeft == 0) _state = State.Prefix;
        else StartVarint(State.Key);
    }
}
