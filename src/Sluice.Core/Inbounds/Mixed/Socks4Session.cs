using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// The server side of one SOCKS4 or SOCKS4a connection (the protocols older apps and Java's default SOCKS client
/// still speak; sing-box's socks and mixed inbounds take them too): one request — version 4, command, port, IPv4
/// address, a user id ending in a zero byte, and for SOCKS4a (address 0.0.0.x, x ≠ 0) a host name ending in a zero
/// byte — then an 8-byte reply. CONNECT only; BIND is refused. SOCKS4 carries no password, so an inbound with
/// <c>users</c> refuses it (a user id is not a secret).
/// </summary>
internal sealed class Socks4Session(MixedInbound inbound, Socket client, HandshakeReader reader)
{
    private const byte Granted = 90, Rejected = 91;

    public async Task RunAsync()
    {
        var request = await reader.TakeAsync(8);
        byte command = request.Span[1];
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(request.Span[2..]);
        uint address = BinaryPrimitives.ReadUInt32BigEndian(request.Span[4..]);
        await reader.TakeUntilZeroAsync("SOCKS4 user id");
        // SOCKS4a: 0.0.0.x with x ≠ 0 says a host name follows the user id.
        string? name = null;
        if (address is > 0 and < 256)
        {
            var bytes = await reader.TakeUntilZeroAsync("SOCKS4a host name");
            name = Encoding.ASCII.GetString(bytes.Span);
            if (name.Length == 0) throw await RejectAsync("a SOCKS4a request with an empty host name");
        }
        if (inbound.Users.Count > 0)
            throw await RejectAsync("a SOCKS4 request: SOCKS4 carries no password and this inbound requires username/password (use SOCKS5)");
        if (command != 1) throw await RejectAsync($"SOCKS4 command {command} is not supported (CONNECT is)");
        if (port == 0) throw await RejectAsync("a SOCKS4 request for port 0");
        var destination = name is null ? new Destination(NetAddress.FromV4(address), port) : Destination.Named(name, port);
        await inbound.ConnectAsync(client, destination, granted => ReplyAsync(granted ? Granted : Rejected), reader);
    }

    private async Task<ProxyProtocolException> RejectAsync(string reason)
    {
        await ReplyAsync(Rejected);
        return new ProxyProtocolException(reason);
    }

    private async Task ReplyAsync(byte code)
    {
        // Version 0, the code, then a port and an address the client ignores for CONNECT.
        byte[] reply = [0, code, 0, 0, 0, 0, 0, 0];
        await client.SendAsync(reply, SocketFlags.None, inbound.Stopping);
    }
}
