using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Vless;

/// <summary>
/// XUDP: one UDP flow as a Mux.Cool session inside a VLESS Mux request (command 3), Xray's framing that
/// sing-box uses by default. Each frame is
/// meta-length(2) meta [data-length(2) data], meta = session(2) status(1) option(1) [network(1) port(2) type(1) address] [global id(8)].
/// 1. the first datagram opens the session (status New, network UDP, the destination, a random global id);
/// 2. later ones are Keep frames that repeat the destination (Xray's full-cone form; older servers ignore it);
/// 3. from the server, Keep (and New) frames with data are the answers; KeepAlive and End carry none for us.
/// A Mux.Cool server without XUDP (v2ray 4.x) reads the same frames as an ordinary UDP session.
/// </summary>
internal sealed class XudpFraming(Destination destination) : IDatagramFraming
{
    public const byte StatusNew = 1;
    public const byte StatusKeep = 2;
    public const byte StatusEnd = 3;
    public const byte StatusKeepAlive = 4;
    public const byte OptionData = 1;
    private const byte NetworkUdp = 2;

    /// <summary>Metadata is at most this long (Mux.Cool's limit).</summary>
    public const int MaxMetadata = 512;

    private readonly byte[] _globalId = RandomNumberGenerator.GetBytes(8);
    private int _opened;

    public int MaxOverhead => 2 + 4 + 1 + VlessProtocol.MaxRequestLength + 8 + 2;

    public int Encode(ReadOnlySpan<byte> payload, Span<byte> frame)
    {
        bool first = Interlocked.Exchange(ref _opened, 1) == 0;
        var meta = frame[2..];
        BinaryPrimitives.WriteUInt16BigEndian(meta, 0); // the only session of this connection
        meta[2] = first ? StatusNew : StatusKeep;
        meta[3] = OptionData;
        meta[4] = NetworkUdp;
        int length = 5 + VlessProtocol.WriteAddress(meta[5..], destination);
        if (first)
        {
            _globalId.CopyTo(meta[length..]);
            length += 8;
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)length);
        BinaryPrimitives.WriteUInt16BigEndian(frame[(2 + length)..], (ushort)payload.Length);
        payload.CopyTo(frame[(4 + length)..]);
        return 4 + length + payload.Length;
    }

    public int Decode(ReadOnlySpan<byte> data, out int payloadOffset, out int payloadLength, out bool skip) =>
        TryReadFrame(data, out payloadOffset, out payloadLength, out skip);

    /// <summary>
    /// One Mux.Cool frame from the server: bytes it spans (0 incomplete, −1 invalid: metadata shorter than 4
    /// or longer than 512, an unknown status). <paramref name="skip"/> is set for frames that carry no
    /// datagram (KeepAlive, End, or no data).
    /// </summary>
    public static int TryReadFrame(ReadOnlySpan<byte> data, out int payloadOffset, out int payloadLength, out bool skip)
    {
        payloadOffset = payloadLength = 0;
        skip = true;
        if (data.Length < 2) return 0;
        int metaLength = BinaryPrimitives.ReadUInt16BigEndian(data);
        if (metaLength < 4 || metaLength > MaxMetadata) return -1;
        if (data.Length < 2 + metaLength) return 0;
        byte status = data[4];
        byte option = data[5];
        if (status is < StatusNew or > StatusKeepAlive) return -1;
        int used = 2 + metaLength;
        if ((option & OptionData) == 0) return used;
        if (data.Length < used + 2) return 0;
        int length = BinaryPrimitives.ReadUInt16BigEndian(data[used..]);
        if (data.Length < used + 2 + length) return 0;
        payloadOffset = used + 2;
        payloadLength = length;
        skip = status is not (StatusKeep or StatusNew);
        return used + 2 + length;
    }
}
