using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Socks;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// The server side of one SOCKS5 connection (RFC 1928/1929): greeting, optional username/password,
/// then CONNECT (relayed) or UDP ASSOCIATE (a relay socket that lives as long as this connection).
/// CONNECT is answered by <see cref="MixedInbound.ConnectAsync"/>.
/// </summary>
internal sealed class SocksSession(MixedInbound inbound, Socket client, HandshakeReader reader)
{

    public async Task RunAsync()
    {
        var token = inbound.Stopping;
        var greeting = await TakeAsync(2);
        int methods = greeting.Span[1];
        if (methods == 0) throw new ProxyProtocolException("SOCKS5 greeting offers no method");
        var offered = await TakeAsync(methods);
        bool needAuth = inbound.Users.Count > 0;
        byte method = needAuth ? (byte)2 : (byte)0;
        if (!offered.Span.Contains(method))
        {
            await client.SendAsync(new byte[] { 5, 0xFF }, SocketFlags.None, token);
            throw new ProxyProtocolException(needAuth
                ? "the client does not offer username/password, which this inbound requires"
                : "the client offers no method this inbound accepts (no authentication)");
        }
        await client.SendAsync(method == 0 ? NoAuthChosen : PasswordChosen, SocketFlags.None, token);
        if (needAuth) await AuthenticateAsync();

        var header = await TakeAsync(5, peek: true);
        if (header.Span[0] != 5) throw new ProxyProtocolException($"SOCKS request version {header.Span[0]}");
        byte command = header.Span[1];
        int addressLength = header.Span[3] switch
        {
            SocksAddress.IPv4 => 4,
            SocksAddress.IPv6 => 16,
            SocksAddress.DomainName => 1 + header.Span[4],
            _ => throw new ProxyProtocolException($"SOCKS address type {header.Span[3]}"),
        };
        var request = await TakeAsync(4 + addressLength + 2);
        if (SocksAddress.TryRead(request.Span[3..], out var destination) <= 0)
            throw new ProxyProtocolException("malformed SOCKS address");

        switch (command)
        {
            case 1 when destination.Port == 0:
                // Answered before any dial (see ConnectAsync), so a port no server listens on is refused here, with a reason in the log.
                await ReplyAsync(1, default);
                throw new ProxyProtocolException($"a SOCKS5 CONNECT to port 0 ({destination})");
            case 1:
                await ConnectAsync(destination);
                break;
            case 3:
                await AssociateAsync(destination);
                break;
            default:
                await ReplyAsync(7, default);
                throw new ProxyProtocolException($"SOCKS command {command} is not supported (CONNECT and UDP ASSOCIATE are)");
        }
    }

    private static readonly byte[] NoAuthChosen = [5, 0];
    private static readonly byte[] PasswordChosen = [5, 2];

    private async Task AuthenticateAsync()
    {
        var header = await TakeAsync(2);
        int userLength = header.Span[1];
        var userAndLength = await TakeAsync(userLength + 1);
        string user = Encoding.UTF8.GetString(userAndLength.Span[..userLength]);
        int passwordLength = userAndLength.Span[userLength];
        string password = Encoding.UTF8.GetString((await TakeAsync(passwordLength)).Span);
        bool ok = inbound.Accepts(user, password);
        await client.SendAsync(new byte[] { 1, ok ? (byte)0 : (byte)1 }, SocketFlags.None, inbound.Stopping);
        if (!ok) throw new ProxyProtocolException($"wrong username or password for user \"{user}\"");
    }

    private Task ConnectAsync(Destination destination) =>
        inbound.ConnectAsync(client, destination, granted => ReplyAsync(granted ? (byte)0 : (byte)2, default), reader); // 2: not allowed by ruleset

    private async Task AssociateAsync(Destination declared)
    {
        if (inbound.RefusesAssociation(client, declared))
        {
            await ReplyAsync(2, default); // connection not allowed by ruleset: the lane carries TCP only
            return;
        }
        var local = ((IPEndPoint)client.LocalEndPoint!).Address;
        using var association = new SocksUdpAssociation(inbound, client, local);
        await ReplyAsync(0, association.LocalEndPoint);
        association.Start();
        // RFC 1928 §7: the association ends when the TCP connection that asked for it does.
        byte[] sink = new byte[64];
        while (await client.ReceiveAsync(sink, SocketFlags.None, inbound.Stopping) > 0)
        {
        }
    }

    private async Task ReplyAsync(byte code, IPEndPoint? bound)
    {
        byte[] reply = new byte[22];
        reply[0] = 5;
        reply[1] = code;
        int n = 3 + SocksAddress.Write(reply.AsSpan(3), bound is null
            ? new Destination(NetAddress.FromV4(0), 0)
            : new Destination(NetAddress.FromIPAddress(bound.Address), (ushort)bound.Port));
        await client.SendAsync(reply.AsMemory(0, n), SocketFlags.None, inbound.Stopping);
    }

    private ValueTask<ReadOnlyMemory<byte>> TakeAsync(int count, bool peek = false) => reader.TakeAsync(count, peek);
}
