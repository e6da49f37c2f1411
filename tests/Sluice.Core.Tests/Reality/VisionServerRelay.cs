using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Tests.Reality;

/// <summary>
/// The VLESS server with xtls-rprx-vision, written for the tests from Xray's description (a buffered frame
/// parser here, not Sluice's streaming unpadder): uplink frames are unpadded until the client's end or direct
/// frame (after direct, the outer TLS's buffered bytes and then the raw socket carry the uplink); downlink
/// is padded until the target's first whole application-data records after a TLS 1.3 ServerHello, sent in a
/// direct frame, then written raw on the socket.
/// </summary>
internal sealed class VisionServerRelay(Tls13RecordLayer records, byte[] userId)
{
    private readonly List<byte> _uplink = [];
    private bool _uplinkDirect, _uplinkPlain, _sawUserId;

    public bool UplinkWentDirect => _uplinkDirect;
    public bool DownlinkWentDirect { get; private set; }
    public string Flow { get; private set; } = "";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var target = await ReadRequestAsync(cancellationToken);
        using var upstream = new TcpClient();
        await upstream.ConnectAsync(target, cancellationToken);
        var targetStream = upstream.GetStream();
        await records.WriteAsync(Tls13RecordLayer.ApplicationData, new byte[] { 0, 0 }, cancellationToken);
        var up = UplinkAsync(targetStream, cancellationToken);
        var down = DownlinkAsync(targetStream, cancellationToken);
        await Task.WhenAny(up, down);
    }

    private async Task<IPEndPoint> ReadRequestAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var (type, content) = await records.ReadAsync(cancellationToken);
            if (type != Tls13RecordLayer.ApplicationData) throw new InvalidDataException("no VLESS request");
            _uplink.AddRange(content.Span.ToArray());
            var bytes = _uplink.ToArray();
            if (bytes.Length < 18 || bytes.Length < 18 + bytes[17] + 4 + 4) continue;
            if (bytes[0] != 0 || !bytes.AsSpan(1, 16).SequenceEqual(userId)) throw new InvalidDataException("wrong VLESS user");
            int addons = bytes[17], at = 18 + addons;
            if (addons >= 2 && bytes[18] == 0x0a) Flow = Encoding.ASCII.GetString(bytes, 20, bytes[19]);
            if (bytes[at] != 1 || bytes[at + 3] != 1) throw new InvalidDataException("only TCP to IPv4 in the test server");
            int port = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at + 1));
            var address = new IPAddress(bytes.AsSpan(at + 4, 4));
            _uplink.RemoveRange(0, at + 8);
            return new IPEndPoint(address, port);
        }
    }

    private async Task UplinkAsync(NetworkStream target, CancellationToken cancellationToken)
    {
        await FlushUplinkAsync(target, cancellationToken);
        while (!_uplinkDirect)
        {
            var (type, content) = await records.ReadAsync(cancellationToken);
            if (type != Tls13RecordLayer.ApplicationData) { target.Socket.Shutdown(SocketShutdown.Send); return; }
            _uplink.AddRange(content.Span.ToArray());
            await FlushUplinkAsync(target, cancellationToken);
        }
        await target.WriteAsync(records.TakeUnread(), cancellationToken);
        await records.Transport.CopyToAsync(target, cancellationToken);
        target.Socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Parses whole frames out of the uplink bytes; content goes to the target.</summary>
    private async Task FlushUplinkAsync(NetworkStream target, CancellationToken cancellationToken)
    {
        var content = new List<byte>();
        while (!_uplinkPlain && !_uplinkDirect)
        {
            int skip = _sawUserId ? 0 : 16;
            if (_uplink.Count < skip + 5) break;
            if (!_sawUserId && !_uplink.GetRange(0, 16).SequenceEqual(userId)) throw new InvalidDataException("the first Vision frame lacks the user id");
            int contentLength = (_uplink[skip + 1] << 8) | _uplink[skip + 2], padding = (_uplink[skip + 3] << 8) | _uplink[skip + 4];
            if (_uplink.Count < skip + 5 + contentLength + padding) break;
            byte command = _uplink[skip];
            content.AddRange(_uplink.GetRange(skip + 5, contentLength));
            _uplink.RemoveRange(0, skip + 5 + contentLength + padding);
            _sawUserId = true;
            if (command == 1) _uplinkPlain = true;
            if (command == 2) _uplinkDirect = true;
        }
        if (_uplinkPlain || _uplinkDirect)
        {
            content.AddRange(_uplink);
            _uplink.Clear();
        }
        if (content.Count > 0) await target.WriteAsync(content.ToArray(), cancellationToken);
    }

    private async Task DownlinkAsync(NetworkStream target, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        bool firstFrame = true, tls13 = false, plain = false;
        int frames = 0;
        while (true)
        {
            int read = await target.ReadAsync(buffer, cancellationToken);
            if (read == 0) break;
            var data = buffer.AsSpan(0, read);
            if (DownlinkWentDirect || plain)
            {
                if (plain) await records.WriteAsync(Tls13RecordLayer.ApplicationData, buffer.AsMemory(0, read), cancellationToken);
                else await records.Transport.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                continue;
            }
            if (data.Length > 5 && data[0] == 0x16 && data[5] == 2 && data.IndexOf((ReadOnlySpan<byte>)[0, 0x2b, 0, 2, 3, 4]) > 0) tls13 = true;
            bool appData = tls13 && Sluice.Core.Outbounds.Vision.VisionFrames.IsWholeApplicationDataRecords(data);
            byte command = appData ? (byte)2 : ++frames >= 8 && !tls13 ? (byte)1 : (byte)0;
            var frame = new List<byte>();
            if (firstFrame) frame.AddRange(userId);
            firstFrame = false;
            int padding = Random.Shared.Next(256);
            frame.AddRange([command, (byte)(read >> 8), (byte)read, (byte)(padding >> 8), (byte)padding]);
            frame.AddRange(data.ToArray());
            frame.AddRange(new byte[padding]);
            await records.WriteAsync(Tls13RecordLayer.ApplicationData, frame.ToArray(), cancellationToken);
            if (command == 2) DownlinkWentDirect = true;
            if (command == 1) plain = true;
        }
        records.Transport.Socket().Shutdown(SocketShutdown.Send);
    }
}

internal static class TransportSocket
{
    public static Socket Socket(this Stream stream) => ((NetworkStream)stream).Socket;
}
