using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// The public key of the leaf certificate an outbound's server presented last, parsed once: an outbound's server shows
/// the same leaf on every connection, and OpenSSL 3 spends ~200 µs per connection loading a certificate and decoding its
/// key against ~70 µs for the ECDSA verification itself. One key is kept; a connection takes it (lock-free) and gives it
/// back, so concurrent handshakes never share one key object — a second one at the same moment parses its own.
/// </summary>
internal sealed class ServerKeyCache
{
    private Lease? _idle;

    /// <summary>A parsed key and the DER of the leaf it came from.</summary>
    internal sealed record Lease(byte[] LeafDer, AsymmetricAlgorithm? Key);

    /// <summary>The key of <paramref name="leafDer"/>: the cached one when it is for the same leaf, else parsed with <paramref name="load"/>.</summary>
    public static Lease Take(ServerKeyCache? cache, ReadOnlySpan<byte> leafDer, Func<X509Certificate2, AsymmetricAlgorithm?> load)
    {
        var lease = cache is null ? null : Interlocked.Exchange(ref cache._idle, null);
        if (lease is not null && lease.LeafDer.AsSpan().SequenceEqual(leafDer)) return lease;
        lease?.Key?.Dispose();
        using var certificate = X509CertificateLoader.LoadCertificate(leafDer);
        return new Lease(leafDer.ToArray(), load(certificate));
    }

    /// <summary>Keeps <paramref name="lease"/> for the next connection (the one kept before it, if any, is disposed); without a cache, disposes it.</summary>
    public static void Return(ServerKeyCache? cache, Lease lease)
    {
        if (cache is null || lease.Key is null)
        {
            lease.Key?.Dispose();
            return;
        }
        Interlocked.Exchange(ref cache._idle, lease)?.Key?.Dispose();
    }
}
