using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Tls;
using Sluice.Tests;

namespace Sluice.Core.Tests.Tls;

/// <summary>
/// Which certificates an outbound accepts, on both of its TLS clients (the own TLS 1.3 client, its default, and SslStream,
/// selected here by cipher_suites): the chain against the pinned roots only (certificate_path), none (insecure), or the
/// system's (neither), vs OpenSSL's s_server with a certificate from a test CA that is no system root.
/// </summary>
public sealed class SslStreamTrustTests(OpensslPeer peer) : IClassFixture<OpensslPeer>
{
    private const string Who = "trojan \"proxy\" (localhost)";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PinnedCaThatSignedTheServer_IsAccepted(bool ownClient) => await HandshakeAsync(ownClient, insecure: false, pinned: "ca");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PinnedCaThatDidNotSignTheServer_IsRefused_WithReason(bool ownClient)
    {
        var error = await Assert.ThrowsAsync<OutboundException>(() => HandshakeAsync(ownClient, insecure: false, pinned: "other-ca"));

        Assert.Contains("the certificate of CN=localhost is not signed by the pinned CA", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task NoPin_ATestCaCertificate_IsRefusedByTheSystemsTrust(bool ownClient)
    {
        var error = await Assert.ThrowsAsync<OutboundException>(() => HandshakeAsync(ownClient, insecure: false, pinned: null));

        Assert.Contains("is not trusted by the system's CAs", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Insecure_AcceptsACertificateNoRootVouchesFor(bool ownClient) => await HandshakeAsync(ownClient, insecure: true, pinned: null);

    /// <summary>The name is checked on both clients: s_server's certificate is for localhost (and 127.0.0.1), not example.org.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PinnedCa_ACertificateForAnotherName_IsRefused(bool ownClient)
    {
        var error = await Assert.ThrowsAsync<OutboundException>(() => HandshakeAsync(ownClient, insecure: false, pinned: "ca", serverName: "example.org"));

        Assert.Contains("is not for \"example.org\"", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A second connection of the same outbound resumes the first one's TLS 1.3 session when the server issues tickets
    /// (s_server does; v2ray 4.34 does not unless enableSessionResumption is set, on either side): no certificate to
    /// send or check. s_server prints "Reused session-id" for a resumed handshake.
    /// </summary>
    [Fact]
    public async Task SecondConnection_ResumesTheSession_WhenTheServerIssuesTickets()
    {
        // SslStream, selected by max_version 1.2 (the own TLS client does not resume; with cipher_suites set SslStream
        // does not either: the runtime caches no TLS context, hence no session, for a CipherSuitesPolicy).
        var options = new TlsClientOptions("localhost", false, false, [], System.Security.Authentication.SslProtocols.Tls12, [], null,
            peer.PathOf("ca.pem"), null, null);
        var client = new TlsClient(options, "localhost", Who, new LogLines().CreateLogger("t"));
        Assert.Equal(TlsClientKind.Runtime, client.Kind);
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256", quiet: false, version: "-tls1_2", extra: ["-naccept", "2"]);
        var output = new System.Text.StringBuilder();
        server.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        server.BeginOutputReadLine();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, port);
                await using var tls = await client.ConnectAsync(tcp.GetStream(), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                await tls.WriteAsync("ping\n"u8.ToArray());
                await server.StandardInput.WriteAsync("pong\n");
                await server.StandardInput.FlushAsync();
                var back = new byte[5];
                await tls.ReadExactlyAsync(back).AsTask().WaitAsync(TimeSpan.FromSeconds(10)); // takes in the ticket that came before it
            }
            await Task.Delay(200);
            lock (output) Assert.Contains("Reused session-id", output.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Stop(server);
        }
    }

    private async Task HandshakeAsync(bool ownClient, bool insecure, string? pinned, string serverName = "localhost")
    {
        var options = new TlsClientOptions(serverName, false, insecure, [], TlsClientOptions.DefaultProtocols, ownClient ? [] : ["TLS_AES_128_GCM_SHA256"], null,
            pinned is null ? null : peer.PathOf(pinned + ".pem"), null, null);
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256");
        try
        {
            var client = new TlsClient(options, "localhost", Who, new LogLines().CreateLogger("t"));
            var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            await using var tls = await client.ConnectAsync(tcp.GetStream(), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(ownClient, tls is Tls13ClientStream);
        }
        finally
        {
            Stop(server);
        }
    }

    private static void Stop(Process server)
    {
        if (!server.HasExited) server.Kill();
        server.WaitForExit();
    }
}
