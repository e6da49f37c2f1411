using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Tests.Outbounds;

/// <summary>How a WebSocket server treats early data in the upgrade's header.</summary>
public enum EarlyDataServerKind
{
    /// <summary>Takes it and echoes the header in the 101 (Xray).</summary>
    TakesAndEchoes,

    /// <summary>Takes it without echoing it (sing-box).</summary>
    TakesSilently,

    /// <summary>Drops it and waits for frames (v2ray before 4.37).</summary>
    Drops,
}

/// <summary>What the server saw on one connection: the early-data header's value, and every byte of the request.</summary>
internal sealed record EarlyDataSeen(string? HeaderValue, byte[] Data);

/// <summary>
/// One server connection of the early-data tests: answers the upgrade as <see cref="EarlyDataServerKind"/> says, reads
/// frames until 500 ms pass without one (a request resent after the early data would show up as a second copy), then
/// answers with <paramref name="answer"/> in one frame if the request reached it and <paramref name="answer"/> is not
/// null, and closes; a server that got no request closes without a byte, as one that dropped the request does.
/// </summary>
internal static class EarlyDataWebSocketServer
{
    public const string Header = "Sec-WebSocket-Protocol";

    public static async Task<EarlyDataSeen> ServeAsync(TcpListener listener, EarlyDataServerKind kind, byte[]? answer)
    {
        using var connection = await listener.AcceptTcpClientAsync();
        var stream = connection.GetStream();
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || !head.TakeLast(4).SequenceEqual("\r\n\r\n"u8.ToArray()))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("the client closed during the upgrade");
            head.Add(one[0]);
        }
        var headers = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n").Skip(1).Where(l => l.Contains(':'))
            .ToDictionary(l => l[..l.IndexOf(':')].Trim(), l => l[(l.IndexOf(':') + 1)..].Trim(), StringComparer.OrdinalIgnoreCase);
        string accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        string? early = headers.GetValueOrDefault(Header);
        string echo = kind == EarlyDataServerKind.TakesAndEchoes && early is not null ? $"{Header}: {early}\r\n" : "";
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{echo}\r\n"));

        var data = new List<byte>();
        if (early is not null && kind != EarlyDataServerKind.Drops)
            data.AddRange(Convert.FromBase64String(early.Replace('-', '+').Replace('_', '/').PadRight((early.Length + 3) / 4 * 4, '=')));
        using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        try
        {
            while (true) data.AddRange(await ReadFrameAsync(stream, quiet.Token));
        }
        catch (OperationCanceledException)
        {
        }
        if (data.Count > 0 && answer is not null) await stream.WriteAsync(new byte[] { 0x82, (byte)answer.Length }.Concat(answer).ToArray());
        return new EarlyDataSeen(early, data.ToArray());
    }

    /// <summary>One masked client frame's payload.</summary>
    private static async Task<byte[]> ReadFrameAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var start = new byte[2];
        await stream.ReadExactlyAsync(start, cancellationToken);
        Assert.Equal(0x82, start[0]);
        Assert.True((start[1] & 0x80) != 0, "client frames are masked");
        long length = start[1] & 0x7F;
        if (length == 126)
        {
            var wide = new byte[2];
            await stream.ReadExactlyAsync(wide, cancellationToken);
            length = BinaryPrimitives.ReadUInt16BigEndian(wide);
        }
        var mask = new byte[4];
        await stream.ReadExactlyAsync(mask, cancellationToken);
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, cancellationToken);
        for (int i = 0; i < payload.Length; i++) payload[i] ^= mask[i % 4];
        return payload;
    }
}
