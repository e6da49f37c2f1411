using System.Buffers.Binary;

namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// One Mux.Cool sub-connection (v2ray's multiplexing frames), which v2ray-plugin speaks inside the
/// WebSocket unless mux=0 on both ends: its server is a dokodemo door to "v1.mux.cool" that expects these
/// frames. Sluice opens one WebSocket per connection, so the stream is session 1 alone:
/// 1. every frame: [u16be metadata length][u16be session][status][option], for status New also
///    [network 1=TCP][u16be port][address type 1=IPv4][address]; option 1 = data follows as [u16be length][data];
/// 2. up: New (with the first data), then Keep frames of at most 8 KiB; End when disposed;
/// 3. down: Keep frames' data is ours, KeepAlive data is skipped, End is the end of the stream.
/// The server ignores the New frame's target (its freedom outbound always dials ss-server).
/// </summary>
internal sealed class MuxCoolStream(Stream inner, string who)
    : FramingPluginStream(inner, 64 * 1024 + (64 * 1024 / MaxFrameData + 2) * 16 + 32)
{
    public const int MaxFrameData = 8192;
    public const byte StatusNew = 1, StatusKeep = 2, StatusEnd = 3, StatusKeepAlive = 4;
    private const int MaxMetadata = 512;
    private readonly byte[] _meta = new byte[2 + MaxMetadata + 2];
    private readonly string _who = who;
    private bool _opened;
    private int _dataLeft;
    private bool _skipping; // the current frame's data is not for us (KeepAlive, another session)
    private bool _ended;

    protected override int Frame(ref ReadOnlyMemory<byte> data, Span<byte> output)
    {
        int n = 0;
        while (!data.IsEmpty && output.Length - n >= MaxFrameData + 32)
        {
            int take = Math.Min(data.Length, MaxFrameData);
            n += WriteFrame(output[n..], _opened ? StatusKeep : StatusNew, data.Span[..take]);
            _opened = true;
            data = data[take..];
        }
        return n;
    }

    /// <summary>End for the session, so the server closes its side at once.</summary>
    protected override int Farewell(Span<byte> output) => _opened ? WriteFrame(output, StatusEnd, default) : 0;

    /// <summary>One frame of session 1 with <paramref name="data"/> (none for End); returns its length.</summary>
    internal static int WriteFrame(Span<byte> o, byte status, ReadOnlySpan<byte> data)
    {
        BinaryPrimitives.WriteUInt16BigEndian(o[2..], 1);
        o[4] = status;
        o[5] = data.IsEmpty ? (byte)0 : (byte)1;
        int meta = 4;
        if (status == StatusNew)
        {
            o[6] = 1; // TCP
            BinaryPrimitives.WriteUInt16BigEndian(o[7..], 443);
            o[9] = 1; // IPv4 127.0.0.1
            o[10] = 127;
            o[11] = 0;
            o[12] = 0;
            o[13] = 1;
            meta += 8;
        }
        BinaryPrimitives.WriteUInt16BigEndian(o, (ushort)meta);
        int n = 2 + meta;
        if (data.IsEmpty) return n;
        BinaryPrimitives.WriteUInt16BigEndian(o[n..], (ushort)data.Length);
        data.CopyTo(o[(n + 2)..]);
        return n + 2 + data.Length;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return 0;
        while (true)
        {
            if (_ended) return 0;
            if (_dataLeft > 0 && !_skipping)
            {
                int n = await Inner.ReadAsync(buffer[..Math.Min(buffer.Length, _dataLeft)], cancellationToken);
                if (n == 0) throw new IOException($"{_who}: v2ray-plugin mux: the server closed the connection inside a frame");
                _dataLeft -= n;
                return n;
            }
            if (_dataLeft > 0)
            {
                int n = await Inner.ReadAsync(_meta.AsMemory(0, Math.Min(_meta.Length, _dataLeft)), cancellationToken);
                if (n == 0) throw new IOException($"{_who}: v2ray-plugin mux: the server closed the connection inside a frame");
                _dataLeft -= n;
                continue;
            }
            if (!await ReadExactlyAsync(Inner, _meta.AsMemory(0, 2), cancellationToken)) return 0; // a clean end between frames
            int metaLength = BinaryPrimitives.ReadUInt16BigEndian(_meta);
            if (metaLength is < 4 or > MaxMetadata) throw new IOException($"{_who}: v2ray-plugin mux: a frame with {metaLength} bytes of metadata (is the server's mux off? then set mux=0)");
            if (!await ReadExactlyAsync(Inner, _meta.AsMemory(0, metaLength), cancellationToken))
                throw new IOException($"{_who}: v2ray-plugin mux: the server closed the connection inside a frame header");
            byte status = _meta[2];
            bool hasData = (_meta[3] & 1) != 0;
            if (status == StatusEnd) _ended = true;
            if (hasData)
            {
                if (!await ReadExactlyAsync(Inner, _meta.AsMemory(0, 2), cancellationToken))
                    throw new IOException($"{_who}: v2ray-plugin mux: the server closed the connection inside a frame header");
                _dataLeft = BinaryPrimitives.ReadUInt16BigEndian(_meta);
                _skipping = status != StatusKeep && status != StatusNew;
            }
        }
    }
}
