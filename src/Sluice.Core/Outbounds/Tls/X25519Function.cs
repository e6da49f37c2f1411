using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// X25519 (RFC 7748 §5) for the own TLS client's key share and Reality's authentication key. The managed one
/// (<see cref="ManagedX25519"/>, BouncyCastle) works wherever .NET does; a platform may give a faster one
/// (<see cref="EnginePlatform.X25519"/>: libcrypto on Linux, ~10× cheaper per handshake than the managed ladder).
/// </summary>
public interface IX25519
{
    /// <summary>X25519(<paramref name="privateKey"/>, 9): the public key of a 32-byte private key (clamped as §5 says).</summary>
    void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey);

    /// <summary>
    /// X25519(<paramref name="privateKey"/>, <paramref name="peerPublicKey"/>) into <paramref name="shared"/> (32 bytes);
    /// false when the peer's key has the wrong length or gives the all-zero secret (RFC 8446 §7.4.2 requires the check).
    /// </summary>
    bool Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublicKey, Span<byte> shared);
}

/// <summary>BouncyCastle's managed X25519: the fallback where no platform one is given (macOS, unit tests, libcrypto missing).</summary>
public sealed class ManagedX25519 : IX25519
{
    public const int KeySize = X25519.PointSize;

    public static readonly ManagedX25519 Instance = new();

    private ManagedX25519()
    {
    }

    public void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        CheckSizes(privateKey.Length, publicKey.Length);
        X25519.ScalarMultBase(privateKey, publicKey);
    }

    public bool Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublicKey, Span<byte> shared)
    {
        CheckSizes(privateKey.Length, shared.Length);
        return peerPublicKey.Length == KeySize && X25519.CalculateAgreement(privateKey, peerPublicKey, shared);
    }

    private static void CheckSizes(int privateKey, int output)
    {
        if (privateKey != KeySize || output != KeySize) throw new ArgumentException($"X25519 keys and secrets are {KeySize} bytes");
    }
}
