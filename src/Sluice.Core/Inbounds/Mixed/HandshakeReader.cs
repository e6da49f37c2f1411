using System.Net.Sockets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// The client's handshake messages of a proxy connection, read from a buffer filled by as few receives as the
/// client's writes allow (one per message from a normal client), not field by field. What the client sent past the
/// handshake (its first bytes, sent ahead of the reply) stays in <see cref="Pending"/> for the relay.
/// </summary>
internal sealed class HandshakeReader(Socket client, byte[] buffer, int received, CancellationToken stopping)
{
    // Holds the longest SOCKS5 request (4 + 1 + 255 + 2 bytes) or SOCKS4a request plus what a client sends ahead of the reply.
    internal const int BufferSize = 1024;
    private int _start;
    private int _end = received;

    /// <summary>What was received and not taken.</summary>
    public ReadOnlyMemory<byte> Pending => buffer.AsMemory(_start, _end - _start);

    /// <summary>
    /// The next <paramref name="count"/> bytes, receiving more only when the buffer runs short; <paramref name="peek"/>
    /// leaves them unconsumed.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>> TakeAsync(int count, bool peek = false)
    {
        while (_end - _start < count) await ReceiveAsync(count);
        var taken = buffer.AsMemory(_start, count);
        if (!peek) _start += count;
        return taken;
    }

    /// <summary>
    /// The bytes up to the next zero byte (which is consumed, not returned): SOCKS4's user id and SOCKS4a's name.
    /// A field that does not end within the buffer is a protocol error naming <paramref name="field"/>.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>> TakeUntilZeroAsync(string field)
    {
        int searched = 0;
        while (true)
        {
            int zero = buffer.AsSpan(_start + searched, _end - _start - searched).IndexOf((byte)0);
            if (zero >= 0)
            {
                var taken = buffer.AsMemory(_start, searched + zero);
                _start += searched + zero + 1;
                return taken;
            }
            searched = _end - _start;
            if (searched >= buffer.Length - 1) throw new ProxyProtocolException($"the {field} does not end within {buffer.Length} bytes");
            await ReceiveAsync(searched + 1);
        }
    }

    private async ValueTask ReceiveAsync(int need)
    {
        if (_start + need > buffer.Length)
        {
            buffer.AsSpan(_start, _end - _start).CopyTo(buffer);
            _end -= _start;
            _start = 0;
        }
        int n = await client.ReceiveAsync(buffer.AsMemory(_end), SocketFlags.None, stopping);
        if (n == 0) throw new IOException("client closed during the proxy handshake");
        _end += n;
    }
}
