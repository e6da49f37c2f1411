using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Tests.Tls;

/// <summary>Sluice's own TLS 1.3 client against OpenSSL's s_server: the independent peer for the TLS half of Reality.</summary>
public sealed class Tls13ClientOpensslTests(OpensslPeer peer) : IClassFixture<OpensslPeer>
{
    private const int MiB = 1 << 20;

    [Theory]
    [InlineData("TLS_AES_128_GCM_SHA256", "ec")]
    [InlineData("TLS_AES_256_GCM_SHA384", "rsa")]
    [InlineData("TLS_CHACHA20_POLY1305_SHA256", "ec")]
    public async Task OneMebibyteEachWay_ArrivesIntact_WithEachCipherSuite(string cipherSuite, string keyType)
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, cipherSuite, keyType);
        try
        {
            await using var tls = await ConnectAsync(port, peer.Roots());
            Assert.Equal(cipherSuite, Tls13CipherSuite.Name(tls.Session.Suite.Code));

            var upload = RandomNumberGenerator.GetBytes(MiB);
            var download = RandomNumberGenerator.GetBytes(MiB);
            var serverReceived = ReadExactlyAsync(server.StandardOutput.BaseStream, MiB);
            var clientReceived = ReadExactlyAsync(tls, MiB);
            var uploading = tls.WriteAsync(upload).AsTask();
            await server.StandardInput.BaseStream.WriteAsync(download);
            await server.StandardInput.BaseStream.FlushAsync();
            await uploading.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(SHA256.HashData(upload), SHA256.HashData(await serverReceived.WaitAsync(TimeSpan.FromSeconds(30))));
            Assert.Equal(SHA256.HashData(download), SHA256.HashData(await clientReceived.WaitAsync(TimeSpan.FromSeconds(30))));
        }
        finally
        {
            Stop(server);
        }
    }

    [Fact]
    public async Task ServerSignedByAnotherCa_IsRefused_WithAClearError()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256");
        try
        {
            var error = await Assert.ThrowsAsync<TlsException>(() => ConnectAsync(port, peer.Roots("other-ca")));
            Assert.Equal($"TLS handshake with localhost:{port} failed: certificate not signed by the configured CA", error.Message);
        }
        finally
        {
            Stop(server);
        }
    }

    /// <summary>Chrome offers no Ed25519 signature scheme, so neither does the Chrome-shaped hello: OpenSSL has nothing to sign with.</summary>
    [Fact]
    public async Task Ed25519OnlyServer_RefusesTheChromeShapedHello_WithItsAlertNamed()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256", "ed25519");
        try
        {
            var error = await Assert.ThrowsAsync<TlsException>(() => ConnectAsync(port, peer.Roots()));
            Assert.Equal($"TLS handshake with localhost:{port} failed: the server sent the handshake_failure alert", error.Message);
        }
        finally
        {
            Stop(server);
        }
    }

    [Fact]
    public async Task ServerNameNotOnTheCertificate_IsRefused()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256");
        try
        {
            var error = await Assert.ThrowsAsync<TlsException>(() => ConnectAsync(port, peer.Roots(), serverName: "example.org"));
            Assert.Contains("certificate is not valid for example.org", error.Message);
        }
        finally
        {
            Stop(server);
        }
    }

    [Fact]
    public async Task ServerThatNeverAnswers_FailsWithinTheHandshakeTimeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        int port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var started = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<TlsException>(() => ConnectAsync(port, peer.Roots(), timeout: TimeSpan.FromMilliseconds(500)));
        Assert.Equal($"TLS handshake with localhost:{port} failed: no answer within 0.5 s", error.Message);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5));
    }

    private static async Task<Tls13ClientStream> ConnectAsync(int port, System.Security.Cryptography.X509Certificates.X509Certificate2Collection roots,
        string serverName = "localhost", TimeSpan? timeout = null)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var options = new Tls13ClientOptions
        {
            Endpoint = $"localhost:{port}", ServerName = serverName, TrustedRoots = roots, HandshakeTimeout = timeout ?? TimeSpan.FromSeconds(10),
        };
        try
        {
            return await Tls13ClientStream.ConnectAsync(client.GetStream(), options, CancellationToken.None);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer);
        return buffer;
    }

    private static void Stop(Process server)
    {
        if (!server.HasExited) server.Kill();
        server.WaitForExit();
    }
}
