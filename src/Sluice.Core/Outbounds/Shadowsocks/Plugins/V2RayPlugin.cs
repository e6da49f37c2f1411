using System.Net.Security;
using System.Security.Authentication;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// v2ray-plugin's websocket mode, client side:
/// 1. with "tls", TLS first (server name = host; the certificate verified against the system's roots,
///    or against the "cert" CA file when given);
/// 2. an RFC 6455 upgrade: GET path, Host: host, a random key; the 101 answer's Sec-WebSocket-Accept is
///    checked, so a plain web server in front cannot pass for the plugin;
/// 3. the Shadowsocks stream in binary messages, one per write (the framing and masking are .NET's
///    managed WebSocket over this connection), inside Mux.Cool frames unless mux=0 (see <see cref="MuxCoolStream"/>).
/// A WebSocket has no half-close: the connection ends when either side closes it.
/// </summary>
internal sealed class V2RayPlugin(V2RayPluginOptions options) : IShadowsocksPlugin
{
    public const int MaxResponseHead = 8192;
    private readonly X509Certificate2? _ca = options.CertificatePath is { } path ? X509CertificateLoader.LoadCertificate(options.Files.Read(path, EngineLimits.Default.PemFileBytes)) : null;

    public async ValueTask<Stream> WrapAsync(Stream connection, string who, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            Stream stream = connection;
            if (options.Tls)
            {
                var ssl = new SslStream(connection, leaveInnerStreamOpen: false);
                stream = ssl;
                var client = new SslClientAuthenticationOptions { TargetHost = options.Host };
                if (_ca is not null) client.RemoteCertificateValidationCallback = VerifyAgainstCa;
                try
                {
                    await ssl.AuthenticateAsClientAsync(client, limit.Token);
                }
                catch (AuthenticationException e)
                {
                    throw new OutboundException($"{who}: v2ray-plugin tls: {e.Message} (host={options.Host})", e);
                }
            }
            byte[] rest = await UpgradeAsync(stream, who, limit.Token);
            var socket = WebSocket.CreateFromStream(rest.Length == 0 ? stream : new PrefixedStream(stream, rest, rest.Length),
                new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
            var webSocket = new WebSocketConnectionStream(socket, stream);
            return options.Mux ? new MuxCoolStream(webSocket, who) : webSocket;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException($"{who}: v2ray-plugin: no WebSocket upgrade within {timeout.TotalSeconds:0.#} s");
        }
        catch (IOException e)
        {
            throw new OutboundException($"{who}: v2ray-plugin: {e.Message}", e);
        }
    }

    /// <summary>Sends the upgrade request and checks the 101; returns bytes read past the head (the first frames).</summary>
    private async ValueTask<byte[]> UpgradeAsync(Stream stream, string who, CancellationToken cancellationToken)
    {
        Span<byte> keyBytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(keyBytes);
        string key = Convert.ToBase64String(keyBytes);
        string request = $"GET {options.Path} HTTP/1.1\r\nHost: {options.Host}\r\nUser-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\n"
            + $"Upgrade: websocket\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancellationToken);
        var head = new byte[MaxResponseHead];
        int have = 0;
        while (true)
        {
            int n = await stream.ReadAsync(head.AsMemory(have), cancellationToken);
            if (n == 0) throw new IOException("the server closed the connection before answering the WebSocket upgrade (is it v2ray-plugin in websocket mode? tls on both sides?)");
            have += n;
            int end = head.AsSpan(0, have).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                string? problem = CheckUpgrade(Encoding.ASCII.GetString(head, 0, end), key);
                if (problem is not null) throw new IOException(problem);
                return head.AsSpan((end + 4)..have).ToArray();
            }
            if (have == head.Length) throw new IOException($"the upgrade answer's head is longer than {MaxResponseHead} bytes");
        }
    }

    /// <summary>Null when the head is a 101 with the right Sec-WebSocket-Accept (RFC 6455 §4.1), else why not.</summary>
    internal static string? CheckUpgrade(string head, string key)
    {
        string[] lines = head.Split("\r\n");
        string status = lines[0];
        if (!status.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
            return $"the server answered \"{(status.Length > 64 ? status[..64] : status)}\" to the WebSocket upgrade (wrong path or host?)";
        string expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim().Equals("Sec-WebSocket-Accept", StringComparison.OrdinalIgnoreCase))
                return line[(colon + 1)..].Trim() == expected ? null : "the server's Sec-WebSocket-Accept does not match our key";
        }
        return "the server's 101 answer has no Sec-WebSocket-Accept";
    }

    private bool VerifyAgainstCa(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(_ca!);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }
}

/// <summary>The WebSocket as the byte stream Shadowsocks writes into: each write one binary message, reads across messages.</summary>
internal sealed class WebSocketConnectionStream(WebSocket socket, Stream connection) : PluginStream(connection)
{
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ValueWebSocketReceiveResult result;
            try
            {
                result = await socket.ReceiveAsync(buffer, cancellationToken);
            }
            catch (WebSocketException e)
            {
                throw new IOException($"v2ray-plugin: {e.Message}", e);
            }
            if (result.MessageType == WebSocketMessageType.Close) return 0;
            if (result.Count > 0 || buffer.IsEmpty) return result.Count;
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await socket.SendAsync(buffer, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
        }
        catch (WebSocketException e)
        {
            throw new IOException($"v2ray-plugin: {e.Message}", e);
        }
    }

    /// <summary>No half-close in WebSocket: a close frame would end both directions, so the write side just stops.</summary>
    public override void ShutdownWrite()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) socket.Abort();
        base.Dispose(disposing);
    }
}
