using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds.Socks;

/// <summary>
/// A SOCKS5 client (RFC 1928, user/password per RFC 1929):
/// 1. greeting offering "no auth" and, with credentials, "username/password";
/// 2. the sub-negotiation when the server picks username/password;
/// 3. CONNECT for TCP (the connection is then the stream, no framing), or UDP ASSOCIATE for UDP: the
///    control connection stays open for the life of the association, datagrams carry a 10-byte header.
/// With a detour, the control connection is the detour's stream and the datagrams to the relay travel
/// on the detour's UDP.
/// </summary>
internal sealed class SocksOutbound(SocksOutboundOptions options, OutboundContext context) : IOutbound, IProxyServerOutbound
{
    private const byte Version = 5;
    private const byte CmdConnect = 1;
    private const byte CmdUdpAssociate = 3;
    private readonly ProxyServer _server = new("socks", options.Tag, options.Server, context);

    public string Tag => options.Tag;

    public string Type => "socks";

    public ProxyServer Server => _server;

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!options.Network.HasFlag(ProxyNetwork.Tcp)) throw new OutboundException($"{_server.Who}: TCP is disabled by \"network\": \"udp\"");
        var connection = await _server.ConnectTcpAsync(cancellationToken);
        try
        {
            await HandshakeAsync(connection.Stream, CmdConnect, destination, cancellationToken);
            return connection.Stream;
        }
        catch
        {
            await connection.Stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>Set when the server answered UDP ASSOCIATE with "command not supported" (many SOCKS servers carry TCP only).</summary>
    private volatile bool _associateRefused;

    public bool CarriesUdp => options.Network.HasFlag(ProxyNetwork.Udp) && !_associateRefused;

    public async ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!options.Network.HasFlag(ProxyNetwork.Udp)) throw new OutboundException($"{_server.Who}: UDP is disabled by \"network\": \"tcp\"");
        var control = await _server.ConnectTcpAsync(cancellationToken);
        try
        {
            // DST.ADDR 0.0.0.0:0: the client does not know its UDP source yet (RFC 1928 §7 allows it).
            var any = new Destination(Packets.NetAddress.FromV4(0), 0);
            var relay = await HandshakeAsync(control.Stream, CmdUdpAssociate, any, cancellationToken);
            // An unspecified BND.ADDR means "the address you reached me at".
            var relayAt = relay.Domain is null && (relay.Address == Packets.NetAddress.FromV4(0) || relay.Address == default)
                ? control.Server with { Port = relay.Port }
                : relay;
            var udp = await _server.OpenUdpAsync(relayAt, cancellationToken);
            return new SocksUdpChannel(control.Stream, udp, destination);
        }
        catch
        {
            await control.Stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs greeting, authentication and one request; returns BND.ADDR:BND.PORT.</summary>
    private async Task<Destination> HandshakeAsync(Stream connection, byte command, Destination destination, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_server.Dial.ConnectTimeout);
        var token = timeout.Token;
        byte[] buffer = new byte[600];
        try
        {
            bool credentials = options.Username is not null;
            int n = 0;
            buffer[n++] = Version;
            buffer[n++] = credentials ? (byte)2 : (byte)1;
            buffer[n++] = 0; // no authentication
            if (credentials) buffer[n++] = 2; // username/password
            await connection.WriteAsync(buffer.AsMemory(0, n), token);
            await ReceiveExactlyAsync(connection, buffer.AsMemory(0, 2), token);
            if (buffer[0] != Version) throw new OutboundException($"{_server.Who}: the server is not a SOCKS5 server (version byte {buffer[0]})");
            switch (buffer[1])
            {
                case 0:
                    break;
                case 2 when credentials:
                    await AuthenticateAsync(connection, buffer, token);
                    break;
                case 0xFF:
                    throw new OutboundException(credentials
                        ? $"{_server.Who}: the server accepts none of our authentication methods"
                        : $"{_server.Who}: the server requires authentication: set \"username\" and \"password\"");
                default:
                    throw new OutboundException($"{_server.Who}: the server chose an authentication method we did not offer ({buffer[1]})");
            }

            n = 0;
            buffer[n++] = Version;
            buffer[n++] = command;
            buffer[n++] = 0;
            n += SocksAddress.Write(buffer.AsSpan(n), destination);
            await connection.WriteAsync(buffer.AsMemory(0, n), token);
            await ReceiveExactlyAsync(connection, buffer.AsMemory(0, 5), token);
            if (buffer[1] == CommandNotSupported && command != CmdConnect) _associateRefused = true;
            if (buffer[1] != 0)
                throw new OutboundException($"{_server.Who}: {(command == CmdConnect ? "CONNECT" : "UDP ASSOCIATE")} to {destination} refused: {Reply(buffer[1])}");
            int rest = buffer[3] switch
            {
                SocksAddress.IPv4 => 4 + 2 - 1,
                SocksAddress.IPv6 => 16 + 2 - 1,
                SocksAddress.DomainName => buffer[4] + 2,
                _ => throw new OutboundException($"{_server.Who}: malformed reply (address type {buffer[3]})"),
            };
            await ReceiveExactlyAsync(connection, buffer.AsMemory(5, rest), token);
            return SocksAddress.TryRead(buffer.AsSpan(3, 5 + rest - 3), out var bound) > 0 ? bound : default;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException($"{_server.Who}: no answer within {_server.Dial.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (IOException e)
        {
            throw new OutboundException($"{_server.Who}: handshake failed: {(e.InnerException is SocketException s ? s.SocketErrorCode.ToString() : e.Message)}", e);
        }
    }

    private async Task AuthenticateAsync(Stream connection, byte[] buffer, CancellationToken token)
    {
        byte[] user = Encoding.UTF8.GetBytes(options.Username!);
        byte[] pass = Encoding.UTF8.GetBytes(options.Password ?? "");
        int n = 0;
        buffer[n++] = 1;
        buffer[n++] = (byte)user.Length;
        user.CopyTo(buffer, n);
        n += user.Length;
        buffer[n++] = (byte)pass.Length;
        pass.CopyTo(buffer, n);
        n += pass.Length;
        await connection.WriteAsync(buffer.AsMemory(0, n), token);
        await ReceiveExactlyAsync(connection, buffer.AsMemory(0, 2), token);
        if (buffer[1] != 0) throw new OutboundException($"{_server.Who}: username/password rejected by the server");
    }

    private async Task ReceiveExactlyAsync(Stream connection, Memory<byte> buffer, CancellationToken token)
    {
        while (!buffer.IsEmpty)
        {
            int n = await connection.ReadAsync(buffer, token);
            if (n == 0) throw new OutboundException($"{_server.Who}: the server closed the connection during the handshake");
            buffer = buffer[n..];
        }
    }

    private const byte CommandNotSupported = 7;

    /// <summary>RFC 1928 §6 reply codes.</summary>
    private static string Reply(byte code) => code switch
    {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => $"reply code {code}",
    };

    public void Dispose()
    {
    }
}

/// <summary>
/// One UDP association: datagrams carry [RSV RSV FRAG][address]; the control connection lives as long.
/// <c>udp</c> reaches the relay: a marked socket, or the detour's channel.
/// </summary>
internal sealed class SocksUdpChannel(Stream control, IUdpChannel udp, Destination destination) : IUdpChannel
{
    private readonly byte[] _send = new byte[65535 + SocksAddress.MaxLength + 3];
    private readonly byte[] _receive = new byte[65535 + SocksAddress.MaxLength + 3];

    public void Send(ReadOnlySpan<byte> payload)
    {
        lock (_send)
        {
            _send[0] = _send[1] = _send[2] = 0;
            int header = 3 + SocksAddress.Write(_send.AsSpan(3), destination);
            if (header + payload.Length > 65507) return;
            payload.CopyTo(_send.AsSpan(header));
            udp.Send(_send.AsSpan(0, header + payload.Length));
        }
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            int n = await udp.ReceiveAsync(_receive, cancellationToken);
            // Fragmented datagrams (FRAG != 0) are dropped, as most clients do.
            if (n < 4 || _receive[2] != 0) continue;
            int header = SocksAddress.TryRead(_receive.AsSpan(3, n - 3), out _);
            if (header <= 0) continue;
            int length = Math.Min(n - 3 - header, buffer.Length);
            _receive.AsSpan(3 + header, length).CopyTo(buffer.Span);
            return length;
        }
    }

    public void Dispose()
    {
        udp.Dispose();
        control.Dispose();
    }
}
