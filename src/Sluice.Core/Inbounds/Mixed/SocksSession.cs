using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Socks;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// The server side of one SOCKS5 connection (RFC 1928/1929): greeting, optional username/password,
/// then CONNECT (relayed) or UDP ASSOCIATE (a relay socket that lives as long as this connection).
/// </summary>
internal sealed class SocksSession(MixedInbound inbound, Socket client)
{
    private readonly byte[] _buffer = new byte[600];

    public async Task RunAsync()
    {
        var token = inbound.Stopping;
        await ReadExactlyAsync(2);
        int methods = _buffer[1];
        if (methods == 0) throw new ProxyProtocolException("SOCKS5 greeting offers no method");
        await ReadExactlyAsync(methods);
        var offered = _buffer.AsSpan(0, methods);
        bool needAuth = inbound.Users.Count > 0;
        byte method = needAuth ? (byte)2 : (byte)0;
        if (!offered.Contains(method))
        {
            await client.SendAsync(new byte[] { 5, 0xFF }, SocketFlags.None, token);
            throw new ProxyProtocolException(needAuth
                ? "the client does not offer username/password, which this inbound requires"
                : "the client offers no method this inbound accepts (no authentication)");
        }
        await client.SendAsync(new byte[] { 5, method }, SocketFlags.None, token);
        if (needAuth) await AuthenticateAsync();

        await ReadExactlyAsync(4);
        if (_buffer[0] != 5) throw new ProxyProtocolException($"SOCKS request version {_buffer[0]}");
        byte command = _buffer[1];
        byte atyp = _buffer[3];
        int addressLength = atyp switch
        {
            SocksAddress.IPv4 => 4,
            SocksAddress.IPv6 => 16,
            SocksAddress.DomainName => -1,
            _ => throw new ProxyProtocolException($"SOCKS address type {atyp}"),
        };
        if (addressLength < 0)
        {
            await ReadExactlyAsync(1, 4);
            addressLength = 1 + _buffer[4];
            await ReadExactlyAsync(_buffer[4] + 2, 5);
        }
        else
        {
            await ReadExactlyAsync(addressLength + 2, 4);
        }
        if (SocksAddress.TryRead(_buffer.AsSpan(3, 1 + addressLength + 2), out var destination) <= 0)
            throw new ProxyProtocolException("malformed SOCKS address");

        switch (command)
        {
            case 1:
                await ConnectAsync(destination);
                break;
            case 3:
                await AssociateAsync();
                break;
            default:
                await ReplyAsync(7, default);
                throw new ProxyProtocolException($"SOCKS command {command} is not supported (CONNECT and UDP ASSOCIATE are)");
        }
    }

    private async Task AuthenticateAsync()
    {
        await ReadExactlyAsync(2);
        int userLength = _buffer[1];
        await ReadExactlyAsync(userLength + 1);
        string user = Encoding.UTF8.GetString(_buffer, 0, userLength);
        int passwordLength = _buffer[userLength];
        await ReadExactlyAsync(passwordLength);
        string password = Encoding.UTF8.GetString(_buffer, 0, passwordLength);
        bool ok = inbound.Users.Any(u => FixedEquals(u.Username, user) & FixedEquals(u.Password, password));
        await client.SendAsync(new byte[] { 1, ok ? (byte)0 : (byte)1 }, SocketFlags.None, inbound.Stopping);
        if (!ok) throw new ProxyProtocolException($"wrong username or password for user \"{user}\"");
    }

    private static bool FixedEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private async Task ConnectAsync(Destination destination)
    {
        var outbound = inbound.Route(client, IpProtocol.Tcp, destination);
        if (outbound is null)
        {
            await ReplyAsync(2, default); // connection not allowed by ruleset
            return;
        }
        var remote = await inbound.DialAsync(outbound, destination);
        if (remote is null)
        {
            await ReplyAsync(4, default); // host unreachable
            return;
        }
        await using (remote)
        {
            await ReplyAsync(0, default);
            await Stack.StreamPump.RunAsync(client, remote);
        }
    }

    private async Task AssociateAsync()
    {
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

    private async Task ReadExactlyAsync(int count, int offset = 0)
    {
        var memory = _buffer.AsMemory(offset, count);
        while (!memory.IsEmpty)
        {
            int n = await client.ReceiveAsync(memory, SocketFlags.None, inbound.Stopping);
            if (n == 0) throw new IOException("client closed during the SOCKS handshake");
            memory = memory[n..];
        }
    }
}
