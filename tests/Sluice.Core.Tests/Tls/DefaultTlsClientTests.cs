using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Sluice.Core.Outbounds.Tls;
using Sluice.Tests;

namespace Sluice.Core.Tests.Tls;

/// <summary>
/// Which TLS client an outbound's connections run without utls: Sluice's own TLS 1.3 client when the tls object allows
/// TLS 1.3 (offering exactly the configured ALPN), SslStream otherwise, and SslStream from then on once a server
/// answered the own client with TLS 1.2 (that connection dialed again once), against OpenSSL's s_server.
/// </summary>
public sealed class DefaultTlsClientTests(OpensslPeer peer) : IClassFixture<OpensslPeer>
{
    private const string Who = "trojan \"proxy\" (localhost)";

    private static TlsClientOptions Options(SslProtocols protocols, IReadOnlyList<string>? cipherSuites = null, string? utls = null, string? pinned = null) =>
        new("localhost", false, false, [], protocols, cipherSuites ?? [], null, pinned, utls, null);

    public static TheoryData<string, SslProtocols, string[], string?, string> Choices => new()
    {
        { "default: 1.2 and 1.3", TlsClientOptions.DefaultProtocols, [], null, "Own" },
        { "min_version 1.3", SslProtocols.Tls13, [], null, "Own" },
        { "max_version 1.2", SslProtocols.Tls12, [], null, "Runtime" },
        { "cipher_suites set", TlsClientOptions.DefaultProtocols, ["TLS_AES_128_GCM_SHA256"], null, "Runtime" },
        { "a TLS 1.2 suite", TlsClientOptions.DefaultProtocols, ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], null, "Runtime" },
        { "utls", TlsClientOptions.DefaultProtocols, [], "chrome", "OwnChromeShaped" },
    };

    [Theory]
    [MemberData(nameof(Choices))]
    public void TheClient_FollowsTheTlsObject(string why, SslProtocols protocols, string[] cipherSuites, string? utls, string expected)
    {
        Assert.True(Enum.Parse<TlsClientKind>(expected) == TlsClient.Choose(Options(protocols, cipherSuites, utls)), why);
    }

    /// <summary>No alpn configured: the own client sends no ALPN extension (not Chrome's "h2", which a server would pick), and carries data.</summary>
    [Fact]
    public async Task WithoutUtls_TheOwnClientReachesATls13Server_OfferingNoAlpn()
    {
        var options = Options(TlsClientOptions.DefaultProtocols, pinned: peer.PathOf("ca.pem"));
        var (hello, echoed) = await UtlsOrdinaryTlsTests.HandshakeAndEchoAsync(peer, options, ownClient: true);

        Assert.DoesNotContain((ushort)0x0010, UtlsOrdinaryTlsTests.ExtensionTypes(hello));
        Assert.Equal("from-sluice\n", echoed);
    }

    /// <summary>
    /// A TLS 1.2-only server: the first connection's own-client hello gets a TLS 1.2 ServerHello, the outbound switches
    /// to SslStream with one info line and that connection is dialed again once and carries data; the next connection
    /// goes to SslStream without a retry.
    /// </summary>
    [Fact]
    public async Task ATls12OnlyServer_IsReachedThroughOneRetryOverSslStream_AndLaterConnectionsStartThere()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256", version: "-tls1_2", extra: ["-naccept", "3"]);
        var log = new LogLines();
        var client = new TlsClient(Options(TlsClientOptions.DefaultProtocols, pinned: peer.PathOf("ca.pem")), "localhost", Who, log.CreateLogger("t"));
        int redials = 0;
        async ValueTask<Stream> Redial(CancellationToken token)
        {
            redials++;
            var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port, token);
            return tcp.GetStream();
        }
        try
        {
            Assert.Equal(TlsClientKind.Own, client.Kind);
            for (int connection = 1; connection <= 2; connection++)
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, port);
                await using var tls = await client.ConnectAsync(tcp.GetStream(), CancellationToken.None, Redial).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                Assert.IsNotType<Tls13ClientStream>(tls);
                await tls.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"connection-{connection}\n"));
                await tls.FlushAsync();
                var line = new byte[13];
                await server.StandardOutput.BaseStream.ReadExactlyAsync(line).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                Assert.Equal($"connection-{connection}\n", System.Text.Encoding.ASCII.GetString(line));
                Assert.Equal(1, redials);
                Assert.Equal(TlsClientKind.Runtime, client.Kind);
            }
            Assert.Equal([$"t: {Who}: the server answered with TLS 1.2: this outbound's TLS runs over the runtime's client (SslStream) from now on"], log.Lines);
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            server.WaitForExit();
        }
    }

    /// <summary>min_version 1.3: a TLS 1.2 answer is an error naming the outbound, not a fallback.</summary>
    [Fact]
    public async Task MinVersion13_ATls12Server_IsRefused_WithoutARetry()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256", version: "-tls1_2");
        var client = new TlsClient(Options(SslProtocols.Tls13, pinned: peer.PathOf("ca.pem")), "localhost", Who, new LogLines().CreateLogger("t"));
        int redials = 0;
        try
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var error = await Assert.ThrowsAsync<Sluice.Core.Outbounds.OutboundException>(async () =>
                await client.ConnectAsync(tcp.GetStream(), CancellationToken.None, _ => { redials++; throw new InvalidOperationException("no redial expected"); }));

            Assert.StartsWith($"{Who}: TLS handshake with localhost failed: the server chose TLS 1.2 or older", error.Message);
            Assert.Equal(0, redials);
            Assert.Equal(TlsClientKind.Own, client.Kind);
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            server.WaitForExit();
        }
    }
}
