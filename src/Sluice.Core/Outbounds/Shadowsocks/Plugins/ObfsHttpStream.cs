using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// simple-obfs "obfs=http", client side: the first write goes out behind a WebSocket-style upgrade request
/// (GET uri, Host, a curl User-Agent, Upgrade: websocket, a random Sec-WebSocket-Key, Content-Length of
/// the data), and the server's first bytes are a "101 Switching Protocols" head to skip. Everything
/// after that is the Shadowsocks stream as is: no framing.
/// </summary>
internal sealed class ObfsHttpStream(Stream inner, string hostHeader, string uri, string who) : PluginStream(inner)
{
    public const int MaxResponseHead = 8192;
    private bool _requestSent;
    private byte[]? _head; // the response head and whatever came after it in the same reads
    private int _headStart, _headEnd;
    private bool _headRead;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_requestSent)
        {
            await Inner.WriteAsync(buffer, cancellationToken);
            return;
        }
        _requestSent = true;
        Span<byte> key = stackalloc byte[16];
        RandomNumberGenerator.Fill(key);
        string request = $"GET {uri} HTTP/1.1\r\nHost: {hostHeader}\r\nUser-Agent: curl/7.{RandomNumberGenerator.GetInt32(50, 88)}.{RandomNumberGenerator.GetInt32(0, 2)}\r\n"
            + $"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {Convert.ToBase64String(key)}\r\nContent-Length: {buffer.Length}\r\n\r\n";
        var bytes = new byte[Encoding.ASCII.GetByteCount(request) + buffer.Length];
        int n = Encoding.ASCII.GetBytes(request, bytes);
        buffer.Span.CopyTo(bytes.AsSpan(n));
        await Inner.WriteAsync(bytes, cancellationToken); // one write: the request and the first data in one segment
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_headRead) await ReadHeadAsync(cancellationToken);
        if (_headEnd > _headStart)
        {
            int n = Math.Min(buffer.Length, _headEnd - _headStart);
            _head.AsSpan(_headStart, n).CopyTo(buffer.Span);
            _headStart += n;
            return n;
        }
        return await Inner.ReadAsync(buffer, cancellationToken);
    }

    private async ValueTask ReadHeadAsync(CancellationToken cancellationToken)
    {
        _head = new byte[MaxResponseHead];
        while (true)
        {
            int n = await Inner.ReadAsync(_head.AsMemory(_headEnd), cancellationToken);
            if (n == 0) throw new IOException($"{who}: obfs=http: the server closed the connection before its HTTP response (is the server's plugin obfs-server with obfs=http?)");
            _headEnd += n;
            int end = ParseHead(_head.AsSpan(0, _headEnd), out string? error);
            if (error is not null) throw new IOException($"{who}: obfs=http: {error}");
            if (end > 0)
            {
                _headStart = end;
                _headRead = true;
                return;
            }
            if (_headEnd == _head.Length) throw new IOException($"{who}: obfs=http: the server's response head is longer than {MaxResponseHead} bytes");
        }
    }

    /// <summary>The length of a complete "HTTP/1.x 101" head (through the blank line), 0 when more is needed, or an error.</summary>
    internal static int ParseHead(ReadOnlySpan<byte> data, out string? error)
    {
        error = null;
        ReadOnlySpan<byte> prefix = "HTTP/1."u8;
        int check = Math.Min(data.Length, prefix.Length);
        if (!data[..check].SequenceEqual(prefix[..check]))
        {
            error = "the server did not answer with HTTP (not an obfs=http server, or the method or port is wrong)";
            return 0;
        }
        int end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0) return 0;
        if (data.Length < 12 || !data.Slice(9, 3).SequenceEqual("101"u8))
        {
            int line = data.IndexOf("\r\n"u8);
            error = $"the server answered \"{Encoding.ASCII.GetString(data[..Math.Min(line, 64)])}\", not 101 Switching Protocols";
            return 0;
        }
        return end + 4;
    }
}
