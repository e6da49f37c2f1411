using Sluice.Core.Outbounds.Reality;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// Sluice's TLS 1.3 client over untrusted bytes, for SharpFuzz (fuzz/Sluice.Fuzz "tls") and the bounded run
/// in the unit tests. The first byte picks the surface: the whole client handshake reading the input as the
/// server's byte stream (records, alerts, ServerHello), or one decoder directly (ServerHello, EncryptedExtensions,
/// Certificate/CompressedCertificate, the certificate DER fields Reality reads, the handshake reassembler).
/// A <see cref="TlsException"/> is the expected refusal; any other exception is a bug.
/// </summary>
public static class TlsFuzzTarget
{
    private static readonly Tls13ClientOptions Options = new()
    {
        Endpoint = "fuzz:443", ServerName = "fuzz.example", HandshakeTimeout = TimeSpan.FromSeconds(5),
        Hooks = new FuzzRealityHooks(),
    };

    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        var body = data[1..].ToArray();
        try
        {
            switch (data[0] % 6)
            {
                case 0:
                    var transport = new MemoryStream(body, writable: false);
                    using (var _ = Tls13ClientStream.ConnectAsync(new ReadOnlyTransport(transport), Options, CancellationToken.None).GetAwaiter().GetResult()) { }
                    break;
                case 1:
                    Tls13ClientHandshake.ParseServerHello(WithHeader(2, body), ClientHello.Build("fuzz.example", []));
                    break;
                case 2:
                    Tls13ClientHandshake.ParseEncryptedExtensions(WithHeader(8, body), []);
                    break;
                case 3:
                    Tls13ClientHandshake.ParseCertificate(WithHeader((byte)(body.Length > 0 && body[0] % 2 == 0 ? 11 : 25), body));
                    break;
                case 4:
                    ServerCertificateValidator.SubjectPublicKey(body);
                    ServerCertificateValidator.SignatureValue(body);
                    RealityAuth.IsRealityCertificate(new byte[32], body);
                    break;
                default:
                    var messages = new HandshakeMessageBuffer();
                    for (int i = 0; i < body.Length; i += 7) messages.Append(body.AsSpan(i, Math.Min(7, body.Length - i)));
                    while (messages.TryTake(out _)) { }
                    break;
            }
        }
        catch (TlsException)
        {
        }
    }

    private static byte[] WithHeader(byte type, byte[] body) =>
        [type, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];

    /// <summary>The server's bytes come from the input; what the client writes goes nowhere.</summary>
    private sealed class ReadOnlyTransport(MemoryStream input) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, Math.Min(count, 512));
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(input.Read(buffer.Span[..Math.Min(buffer.Length, 512)]));
        public override void Write(byte[] buffer, int offset, int count) { }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Reality's certificate decision on whatever leaf the input carries, without a real key.</summary>
    private sealed class FuzzRealityHooks : ITls13HandshakeHooks
    {
        public void OnClientHello(ClientHello hello) { }

        public bool AcceptCertificate(ReadOnlySpan<byte> leafDer) => RealityAuth.IsRealityCertificate(new byte[32], leafDer);
    }
}
