using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
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
            Assert.False(tls.Session.HelloRetried);
            await ExchangeOneMebibyteEachWayAsync(server, tls);
        }
        finally
        {
            Stop(server);
        }
    }

    /// <summary>
    /// s_server limited to P-256 answers the X25519 share with a HelloRetryRequest (RFC 8446 §4.1.4): the second hello
    /// carries a P-256 share (ECDiffieHellman), and the connection then carries 1 MiB each way intact.
    /// </summary>
    [Theory]
    [InlineData("P-256", "TLS_AES_128_GCM_SHA256", ClientHello.GroupSecp256r1)]
    [InlineData("P-384", "TLS_AES_256_GCM_SHA384", ClientHello.GroupSecp384r1)]
    public async Task ServerAskingForAnotherGroup_GetsASecondHello_AndOneMebibyteEachWayArrivesIntact(string group, string cipherSuite, ushort code)
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, cipherSuite, extra: ["-groups", group]);
        try
        {
            await using var tls = await ConnectAsync(port, peer.Roots());
            Assert.True(tls.Session.HelloRetried, "s_server sent a HelloRetryRequest");
            Assert.Equal(code, tls.Session.Group);
            await ExchangeOneMebibyteEachWayAsync(server, tls);
        }
        finally
        {
            Stop(server);
        }
    }

    /// <summary>A server that takes only X448 (not in the Chrome-shaped hello's groups) has nothing to retry with: its alert is named.</summary>
    [Fact]
    public async Task ServerWithNoGroupInCommon_RefusesTheHello_WithItsAlertNamed()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256", extra: ["-groups", "X448"]);
        try
        {
            var error = await Assert.ThrowsAsync<TlsException>(() => ConnectAsync(port, peer.Roots()));
            Assert.StartsWith($"TLS handshake with localhost:{port} failed: the server sent the handshake_failure alert", error.Message);
        }
        finally
        {
            Stop(server);
        }
    }

    private static async Task ExchangeOneMebibyteEachWayAsync(Process server, Tls13ClientStream tls)
    {
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

    /// <summary>
    /// The own TLS client against a TLS 1.3 server that sends session tickets (.NET's SslStream on OpenSSL, with the peer's
    /// test certificate): after 1 MiB each way has arrived intact the connection holds none of its record buffers (they
    /// went back to the pool as the plaintext drained; it used to keep up to 116 KiB for its life), and it still works.
    /// </summary>
    [Fact]
    public async Task AConnectionIdlingAfterABulkExchange_HoldsNoRecordBuffer()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(2);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var serving = AcceptTls13Async(listener);
        await using var tls = await ConnectAsync(port, peer.Roots());
        await using var server = await serving.WaitAsync(TimeSpan.FromSeconds(10));

        var upload = RandomNumberGenerator.GetBytes(MiB);
        var download = RandomNumberGenerator.GetBytes(MiB);
        var serverReceived = ReadExactlyAsync(server, MiB);
        var clientReceived = ReadExactlyAsync(tls, MiB);
        await tls.WriteAsync(upload);
        await server.WriteAsync(download);
        Assert.Equal(SHA256.HashData(upload), SHA256.HashData(await serverReceived.WaitAsync(TimeSpan.FromSeconds(30))));
        Assert.Equal(SHA256.HashData(download), SHA256.HashData(await clientReceived.WaitAsync(TimeSpan.FromSeconds(30))));

        Assert.True(tls.HeldRecordBufferBytes == 0, $"the TLS client holds {tls.HeldRecordBufferBytes} bytes of record buffers while idle");
        await server.WriteAsync("late"u8.ToArray());
        Assert.Equal("late"u8.ToArray(), await ReadExactlyAsync(tls, 4).WaitAsync(TimeSpan.FromSeconds(10)));
        await tls.WriteAsync("back"u8.ToArray());
        Assert.Equal("back"u8.ToArray(), await ReadExactlyAsync(server, 4).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, tls.HeldRecordBufferBytes);
    }

    /// <summary>
    /// A relay (the engine's StreamPump) between an app's socket and the own TLS client, against a TLS 1.3 server that
    /// sends session tickets: after 1 MiB each way the idle flow holds no relay buffer (the TLS stream waits without one,
    /// taking the tickets on the way) and no record buffer — what 1,000 idle VLESS or Trojan flows cost after a download.
    /// </summary>
    [Fact]
    public async Task ARelayOverTheOwnClient_AfterABulkExchange_IdlesHoldingNoBuffer()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(2);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var serving = AcceptTls13Async(listener);
        var tls = await ConnectAsync(port, peer.Roots());
        await using var server = await serving.WaitAsync(TimeSpan.FromSeconds(10));
        using var app = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await app.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();
        var buffers = new Sluice.Core.Stack.RelayBuffers(64 * 1024, 8 * 1024, 1024 * 1024);
        var relay = Sluice.Core.Stack.StreamPump.RunAsync(accepted, tls, buffers);

        var upload = RandomNumberGenerator.GetBytes(MiB);
        var download = RandomNumberGenerator.GetBytes(MiB);
        var serverReceived = ReadExactlyAsync(server, MiB);
        var appReceived = ReadExactlyAsync(new NetworkStream(app), MiB);
        await app.SendAsync(upload);
        await server.WriteAsync(download);
        Assert.Equal(SHA256.HashData(upload), SHA256.HashData(await serverReceived.WaitAsync(TimeSpan.FromSeconds(30))));
        Assert.Equal(SHA256.HashData(download), SHA256.HashData(await appReceived.WaitAsync(TimeSpan.FromSeconds(30))));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((buffers.BytesInUse != 0 || tls.HeldRecordBufferBytes != 0) && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(buffers.BytesInUse == 0, $"the relay holds {buffers.BytesInUse} bytes of buffers while the flow idles");
        Assert.True(tls.HeldRecordBufferBytes == 0, $"the TLS client holds {tls.HeldRecordBufferBytes} bytes of record buffers while idle");
        Assert.False(relay.IsCompleted);

        // Still a working connection: a late answer arrives, and the ends pass on.
        await server.WriteAsync("late"u8.ToArray());
        Assert.Equal("late"u8.ToArray(), await ReadExactlyAsync(new NetworkStream(app), 4).WaitAsync(TimeSpan.FromSeconds(10)));
        app.Shutdown(SocketShutdown.Send);
        server.Close();
        await relay.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// A TLS 1.3 server on .NET's SslStream (OpenSSL underneath, session tickets sent) with the peer's EC test certificate,
    /// for the tests that need to write and read at the server end at will.
    /// </summary>
    private async Task<System.Net.Security.SslStream> AcceptTls13Async(Socket listener)
    {
        using var certificate = X509Certificate2.CreateFromPemFile(peer.PathOf("server-ec.pem"), peer.PathOf("server-ec.key"));
        var server = new System.Net.Security.SslStream(new NetworkStream(await listener.AcceptAsync(), ownsSocket: true));
        await server.AuthenticateAsServerAsync(new System.Net.Security.SslServerAuthenticationOptions
        {
            ServerCertificate = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null),
            EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls13,
        });
        return server;
    }

    /// <summary>OpenSSL's KeyUpdate with update_requested: Sluice reads under the server's new keys and answers with its own.</summary>
    [Fact]
    public async Task ServerKeyUpdate_IsFollowed_BothWays()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256", quiet: false);
        var serverOutput = new System.Text.StringBuilder();
        server.OutputDataReceived += (_, e) => { lock (serverOutput) serverOutput.AppendLine(e.Data); };
        server.ErrorDataReceived += (_, e) => { lock (serverOutput) serverOutput.AppendLine(e.Data); }; // -state lines
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            await using var tls = await ConnectAsync(port, peer.Roots());
            var reading = ReadExactlyAsync(tls, 5);
            await server.StandardInput.WriteAsync("K\n");
            await server.StandardInput.FlushAsync();
            await Task.Delay(300);
            await server.StandardInput.WriteAsync("ping\n");
            await server.StandardInput.FlushAsync();
            Assert.Equal("ping\n", System.Text.Encoding.ASCII.GetString(await reading.WaitAsync(TimeSpan.FromSeconds(10))));
            Assert.True(Contains(serverOutput, "write server key update"), "s_server sent its KeyUpdate before ping:\n" + serverOutput);

            await tls.WriteAsync("after-update\n"u8.ToArray());
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!Contains(serverOutput, "after-update") && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.True(Contains(serverOutput, "after-update"), "s_server decrypted what Sluice wrote under its updated keys:\n" + serverOutput);
        }
        finally
        {
            Stop(server);
        }
    }

    private static bool Contains(System.Text.StringBuilder output, string text)
    {
        lock (output) return output.ToString().Contains(text, StringComparison.Ordinal);
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

    /// <summary>
    /// DeferFinished: the client's CCS and Finished leave in the same transport write as the first application data
    /// (one segment), and s_server completes the handshake and gets the bytes intact.
    /// </summary>
    [Fact]
    public async Task DeferredFinished_LeavesInOneWriteWithTheFirstData()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256");
        try
        {
            var writes = new List<byte[]>();
            await using var tls = await ConnectAsync(port, peer.Roots(), deferFinished: true, writes: writes);
            Assert.Single(writes); // the ClientHello only: the Finished waits

            await tls.WriteAsync("from-sluice\n"u8.ToArray());

            Assert.Equal(2, writes.Count);
            Assert.Equal(new byte[] { 20, 3, 3, 0, 1, 1 }, writes[1][..6]); // CCS first, then the Finished and the data records
            Assert.Equal(3, CountRecords(writes[1]));
            Assert.Equal("from-sluice\n", System.Text.Encoding.ASCII.GetString(await ReadExactlyAsync(server.StandardOutput.BaseStream, 12)));
        }
        finally
        {
            Stop(server);
        }
    }

    /// <summary>
    /// DeferFinished with a read before any write (a server-speaks-first protocol): the Finished goes before the read,
    /// else s_server, which sends only once the handshake is complete, would never answer.
    /// </summary>
    [Fact]
    public async Task DeferredFinished_GoesBeforeAReadThatComesFirst()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256");
        try
        {
            await using var tls = await ConnectAsync(port, peer.Roots(), deferFinished: true);
            await server.StandardInput.WriteAsync("server-first\n");
            await server.StandardInput.FlushAsync();

            var line = await ReadExactlyAsync(tls, 13).WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal("server-first\n", System.Text.Encoding.ASCII.GetString(line));
        }
        finally
        {
            Stop(server);
        }
    }

    private static int CountRecords(byte[] bytes)
    {
        int count = 0;
        for (int offset = 0; offset + 5 <= bytes.Length; count++) offset += 5 + System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(offset + 3));
        return count;
    }

    private static async Task<Tls13ClientStream> ConnectAsync(int port, System.Security.Cryptography.X509Certificates.X509Certificate2Collection roots,
        string serverName = "localhost", TimeSpan? timeout = null, bool deferFinished = false, List<byte[]>? writes = null)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var options = new Tls13ClientOptions
        {
            Endpoint = $"localhost:{port}", ServerName = serverName, TrustedRoots = roots, HandshakeTimeout = timeout ?? TimeSpan.FromSeconds(10),
            DeferFinished = deferFinished,
        };
        try
        {
            Stream transport = writes is null ? client.GetStream() : new WriteLog(client.GetStream(), writes);
            return await Tls13ClientStream.ConnectAsync(transport, options, CancellationToken.None);
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

    /// <summary>Passes everything through and keeps each write's bytes.</summary>
    private sealed class WriteLog(Stream inner, List<byte[]> writes) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (writes) writes.Add(buffer.ToArray());
            return inner.WriteAsync(buffer, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
