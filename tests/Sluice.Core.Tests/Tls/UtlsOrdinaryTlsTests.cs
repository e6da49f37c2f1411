using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Tls;
using Sluice.Tests;

namespace Sluice.Core.Tests.Tls;

/// <summary>
/// tls.utls on an ordinary (non-Reality) TLS outbound: the connection runs Sluice's own Chrome-shaped TLS 1.3
/// client, not SslStream, proven against OpenSSL's s_server; the SslStream hello (cipher_suites set, which selects it)
/// is the positive control that the shape check can tell them apart.
/// </summary>
public sealed class UtlsOrdinaryTlsTests(OpensslPeer peer) : IClassFixture<OpensslPeer>
{
    private const string Who = "trojan \"proxy\" (localhost)";

    private TlsClientOptions Options(string? fingerprint, IReadOnlyList<string>? cipherSuites = null) => new(
        "localhost", false, false, [], TlsClientOptions.DefaultProtocols, cipherSuites ?? [], null, peer.PathOf("ca.pem"), fingerprint, null);

    [Fact]
    public async Task UtlsChrome_SendsTheChromeShapedHello_AndCarriesData()
    {
        var (hello, echoed) = await HandshakeAndEchoAsync(UtlsFingerprints.Chrome);

        var suites = CipherSuites(hello);
        Assert.True(IsGrease(suites[0]), $"first suite 0x{suites[0]:x4} is GREASE as Chrome sends it");
        Assert.Equal([0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035], suites[1..]);
        var extensions = ExtensionTypes(hello).Where(t => t != 0x0015).ToArray(); // padding (RFC 7685) goes after the last GREASE
        Assert.True(IsGrease(extensions[0]) && IsGrease(extensions[^1]), "GREASE extensions first and last: " + string.Join(",", extensions.Select(t => t.ToString("x4"))));
        Assert.Equal("from-sluice\n", echoed);
    }

    /// <summary>Positive control: through SslStream the hello is OpenSSL's (no GREASE, TLS 1.3 suites not Chrome's list), so the check above can fail.</summary>
    [Fact]
    public async Task ThroughSslStream_TheHelloIsOpenssls_NotChromeShaped()
    {
        var (hello, echoed) = await HandshakeAndEchoAsync(null, ["TLS_AES_128_GCM_SHA256"]);

        Assert.DoesNotContain(CipherSuites(hello), IsGrease);
        Assert.DoesNotContain(ExtensionTypes(hello), IsGrease);
        Assert.Equal("from-sluice\n", echoed);
    }

    [Fact]
    public async Task UtlsWithATls12OnlyServer_FailsNamingTheOutbound_AndTheFix()
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256", version: "-tls1_2");
        try
        {
            var client = new TlsClient(Options("chrome"), "localhost", Who, new LogLines().CreateLogger("t"));
            var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var error = await Assert.ThrowsAsync<OutboundException>(async () => await client.ConnectAsync(tcp.GetStream(), CancellationToken.None));

            Assert.StartsWith($"{Who}: TLS handshake with localhost failed: the server chose TLS 1.2 or older", error.Message);
            Assert.Contains("remove \"utls\" from its tls object to reach a TLS 1.2 server, or enable TLS 1.3 on the server", error.Message);
        }
        finally
        {
            Stop(server);
        }
    }

    [Fact]
    public void AFingerprintNotBuiltIn_IsSentAsChrome_WithOneWarningPerOutbound()
    {
        var log = new LogLines();
        _ = new TlsClient(Options("firefox"), "localhost", Who, log.CreateLogger("t"));
        _ = new TlsClient(Options("chrome"), "localhost", Who, log.CreateLogger("t"));

        Assert.Equal([$"t: {Who}: utls.fingerprint \"firefox\" is not built into Sluice: its ClientHello has Chrome's shape instead"], log.Lines);
    }

    [Theory]
    [InlineData("""{"enabled":true,"utls":{"enabled":true,"fingerprint":"netscape"}}""", "outbounds[0].tls.utls.fingerprint", "\"netscape\" is not a uTLS fingerprint")]
    [InlineData("""{"enabled":true,"max_version":"1.2","utls":{"enabled":true}}""", "outbounds[0].tls.max_version", "speaks only TLS 1.3")]
    [InlineData("""{"enabled":true,"cipher_suites":["TLS_AES_128_GCM_SHA256"],"utls":{"enabled":true,"fingerprint":"chrome"}}""", "outbounds[0].tls.cipher_suites", "cannot be combined with utls")]
    public void UtlsThatCannotBeHonoured_IsACheckError(string tls, string path, string message)
    {
        var errors = ConfigLoader.Validate($$"""{"outbounds":[{"type":"trojan","tag":"t","server":"tj.example","server_port":443,"password":"pw","tls":{{tls}}}]}""");

        var error = Assert.Single(errors);
        Assert.Equal(path, error.Path);
        Assert.Contains(message, error.Message);
    }

    /// <summary>Connects through <see cref="TlsClient"/> to s_server, recording what it writes; returns the ClientHello record and what s_server echoed.</summary>
    private async Task<(byte[] Hello, string Echoed)> HandshakeAndEchoAsync(string? fingerprint, IReadOnlyList<string>? cipherSuites = null) =>
        await HandshakeAndEchoAsync(peer, Options(fingerprint, cipherSuites), ownClient: cipherSuites is null);

    /// <summary>Connects through a <see cref="TlsClient"/> with <paramref name="options"/> to s_server, recording what it writes; returns the ClientHello record and what s_server echoed.</summary>
    internal static async Task<(byte[] Hello, string Echoed)> HandshakeAndEchoAsync(OpensslPeer peer, TlsClientOptions options, bool ownClient)
    {
        int port = OpensslPeer.FreePort();
        using var server = peer.StartServer(port, "TLS_AES_128_GCM_SHA256");
        try
        {
            var client = new TlsClient(options, "localhost", Who, new LogLines().CreateLogger("t"));
            var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var recording = new RecordingStream(tcp.GetStream());
            await using var tls = await client.ConnectAsync(recording, CancellationToken.None);
            Assert.Equal(ownClient, tls is Tls13ClientStream);
            await tls.WriteAsync("from-sluice\n"u8.ToArray());
            await tls.FlushAsync();
            var line = new byte[12];
            string received = await ReadLineAsync(server.StandardOutput.BaseStream, line);
            await server.StandardInput.BaseStream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(received));
            await server.StandardInput.BaseStream.FlushAsync();
            var back = new byte[received.Length];
            await tls.ReadExactlyAsync(back).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            return (recording.FirstRecord(), System.Text.Encoding.ASCII.GetString(back));
        }
        finally
        {
            Stop(server);
        }
    }

    private static async Task<string> ReadLineAsync(Stream stream, byte[] buffer)
    {
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return System.Text.Encoding.ASCII.GetString(buffer);
    }

    internal static bool IsGrease(ushort value) => (value & 0x0f0f) == 0x0a0a && (value >> 8) == (value & 0xff);

    /// <summary>The cipher_suites of a ClientHello record (record header 5, handshake header 4, version 2, random 32, session id).</summary>
    private static ushort[] CipherSuites(byte[] record)
    {
        int offset = 5 + 4 + 2 + 32;
        offset += 1 + record[offset];
        int length = BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(offset));
        return Enumerable.Range(0, length / 2).Select(i => BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(offset + 2 + 2 * i))).ToArray();
    }

    internal static ushort[] ExtensionTypes(byte[] record)
    {
        int offset = 5 + 4 + 2 + 32;
        offset += 1 + record[offset];
        offset += 2 + BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(offset));
        offset += 1 + record[offset];
        int end = offset + 2 + BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(offset));
        var types = new List<ushort>();
        for (offset += 2; offset < end; offset += 4 + BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(offset + 2)))
            types.Add(BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(offset)));
        return [.. types];
    }

    private static void Stop(Process server)
    {
        if (!server.HasExited) server.Kill();
        server.WaitForExit();
    }

    /// <summary>Passes everything through and keeps the first bytes written (the ClientHello record).</summary>
    private sealed class RecordingStream(Stream inner) : Stream
    {
        private readonly MemoryStream _written = new();

        public byte[] FirstRecord()
        {
            var all = _written.ToArray();
            int length = BinaryPrimitives.ReadUInt16BigEndian(all.AsSpan(3));
            Assert.Equal(22, all[0]);
            return all[..(5 + length)];
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            lock (_written) if (_written.Length < 4096) _written.Write(buffer, offset, count);
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (_written) if (_written.Length < 4096) _written.Write(buffer.Span);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
