using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Tests.Tls;

/// <summary>
/// TLS 1.3 resumption of Sluice's own client against OpenSSL's s_server, which says itself whether it resumed: s_server
/// (not quiet) prints "Reused session-id" for a connection it resumed, and only a full handshake shows "Shared Signature Algorithms"
/// (it chose what to sign the certificate with).
/// </summary>
public sealed class Tls13ResumptionOpensslTests(OpensslPeer peer) : IClassFixture<OpensslPeer>
{
    [Theory]
    [InlineData("TLS_AES_128_GCM_SHA256")]
    [InlineData("TLS_AES_256_GCM_SHA384")]
    [InlineData("TLS_CHACHA20_POLY1305_SHA256")]
    public async Task SecondConnection_IsResumedByTheServer_WithATicketFromTheFirst(string cipherSuite)
    {
        int port = OpensslPeer.FreePort();
        using var server = Watch(peer.StartServer(port, cipherSuite, quiet: false, accept: 2), out var output);
        var cache = new TlsSessionCache(8, TimeProvider.System);
        try
        {
            await using (var first = await ConnectAsync(port, peer.Roots(), cache))
            {
                await ExchangeAsync(server, output, first, "first");
                Assert.False(first.Session.Resumed);
            }
            Assert.Equal(2, cache.Count); // OpenSSL's two tickets after a full handshake

            await using var second = await ConnectAsync(port, peer.Roots(), cache);
            await ExchangeAsync(server, output, second, "second");

            Assert.True(second.Session.Resumed);
            Assert.Equal(1, Count(output, "Reused session-id"));
            Assert.Equal(cipherSuite, Tls13CipherSuite.Name(second.Session.Suite.Code));
            Assert.Equal(2, cache.Count); // one ticket used, one new from the resumed connection
        }
        finally
        {
            Stop(server);
        }
    }

    /// <summary>
    /// s_server limited to P-256 answers the X25519 share with a HelloRetryRequest every time: the second hello of the
    /// resumed connection carries the ticket again with its binder recomputed over message_hash, the retry request and
    /// itself (RFC 8446 §4.1.2, §4.2.11.2), and the server resumes.
    /// </summary>
    [Fact]
    public async Task HelloRetryRequest_KeepsTheTicket_WithItsBinderRecomputed()
    {
        int port = OpensslPeer.FreePort();
        using var server = Watch(peer.StartServer(port, "TLS_AES_128_GCM_SHA256", quiet: false, accept: 2, extra: ["-groups", "P-256"]), out var output);
        var cache = new TlsSessionCache(8, TimeProvider.System);
        try
        {
            await using (var first = await ConnectAsync(port, peer.Roots(), cache)) await ExchangeAsync(server, output, first, "first");

            await using var second = await ConnectAsync(port, peer.Roots(), cache);
            await ExchangeAsync(server, output, second, "second");

            Assert.True(second.Session.HelloRetried);
            Assert.True(second.Session.Resumed);
            Assert.Equal(1, Count(output, "Reused session-id"));
        }
        finally
        {
            Stop(server);
        }
    }

    /// <summary>
    /// A restarted server (new ticket keys) declines the ticket: the connection is a full handshake that validates the
    /// certificate again, so a server now showing a certificate from another CA is refused, and a good one works.
    /// </summary>
    [Fact]
    public async Task DeclinedTicket_FallsBackToAFullHandshake_ThatStillValidatesTheCertificate()
    {
        int port = OpensslPeer.FreePort();
        var cache = new TlsSessionCache(8, TimeProvider.System);
        using (var server = Watch(peer.StartServer(port, "TLS_AES_128_GCM_SHA256", quiet: false), out var output))
        {
            await using (var tls = await ConnectAsync(port, peer.Roots(), cache)) await ExchangeAsync(server, output, tls, "earn");
            Stop(server);
        }
        Assert.Equal(2, cache.Count);

        using (var impostor = peer.StartServer(port, "TLS_AES_128_GCM_SHA256", keyType: "other"))
        {
            var error = await Assert.ThrowsAsync<TlsException>(() => ConnectAsync(port, peer.Roots(), cache));
            Assert.Equal($"TLS handshake with localhost:{port} failed: certificate not signed by the configured CA", error.Message);
            Assert.Equal(1, cache.Count); // a ticket was offered (and is gone: single use)
            Stop(impostor);
        }

        using var restarted = Watch(peer.StartServer(port, "TLS_AES_128_GCM_SHA256", quiet: false), out var restartedOutput);
        try
        {
            await using var tls = await ConnectAsync(port, peer.Roots(), cache);
            await ExchangeAsync(restarted, restartedOutput, tls, "full-again");
            Assert.False(tls.Session.Resumed);
            Assert.Equal(0, Count(restartedOutput, "Reused session-id"));
            Assert.Equal(1, Count(restartedOutput, "Shared Signature Algorithms"));
        }
        finally
        {
            Stop(restarted);
        }
    }

    [Fact]
    public async Task ServerSignedByAnotherCa_IsRefusedOnTheFirstConnection_AndLeavesNoTicket()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256");
        var cache = new TlsSessionCache(8, TimeProvider.System);
        try
        {
            var error = await Assert.ThrowsAsync<TlsException>(() => ConnectAsync(port, peer.Roots("other-ca"), cache));
            Assert.Equal($"TLS handshake with localhost:{port} failed: certificate not signed by the configured CA", error.Message);
            Assert.Equal(0, cache.Count);
        }
        finally
        {
            Stop(server);
        }
    }

    /// <summary>Client → server one line (seen in s_server's output), server → client one line (after the tickets).</summary>
    private static async Task ExchangeAsync(Process server, StringBuilder output, Tls13ClientStream tls, string word)
    {
        await tls.WriteAsync(Encoding.ASCII.GetBytes(word + "\n"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Contains(output, word) && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(Contains(output, word), "s_server got the client's line:\n" + output);
        await server.StandardInput.WriteAsync("pong-" + word + "\n");
        await server.StandardInput.FlushAsync();
        var line = new byte[word.Length + 6];
        await tls.ReadExactlyAsync(line).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("pong-" + word + "\n", Encoding.ASCII.GetString(line));
    }

    private static Process Watch(Process server, out StringBuilder output)
    {
        var lines = new StringBuilder();
        server.OutputDataReceived += (_, e) => { lock (lines) lines.AppendLine(e.Data); };
        server.ErrorDataReceived += (_, e) => { lock (lines) lines.AppendLine(e.Data); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        output = lines;
        return server;
    }

    private static bool Contains(StringBuilder output, string text)
    {
        lock (output) return output.ToString().Contains(text, StringComparison.Ordinal);
    }

    private static int Count(StringBuilder output, string text)
    {
        lock (output)
        {
            var all = output.ToString();
            int count = 0;
            for (int at = all.IndexOf(text, StringComparison.Ordinal); at >= 0; at = all.IndexOf(text, at + text.Length, StringComparison.Ordinal)) count++;
            return count;
        }
    }

    private static async Task<Tls13ClientStream> ConnectAsync(int port, System.Security.Cryptography.X509Certificates.X509Certificate2Collection roots,
        TlsSessionCache cache)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var options = new Tls13ClientOptions { Endpoint = $"localhost:{port}", ServerName = "localhost", TrustedRoots = roots, Sessions = cache };
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

    private static void Stop(Process server)
    {
        if (!server.HasExited) server.Kill();
        server.WaitForExit();
    }
}
