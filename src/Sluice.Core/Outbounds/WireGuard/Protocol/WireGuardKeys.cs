using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>Curve25519 keys as `wg genkey` / `wg pubkey` write them: 32 bytes, base64.</summary>
public static class WireGuardKeys
{
    public const int KeySize = 32;

    /// <summary>Decodes a base64 key; <paramref name="what"/> names it in the error ("peers[0].public_key").</summary>
    public static byte[] ParseKey(string base64, string what)
    {
        byte[]? key = null;
        if (base64 is not null)
        {
            var buffer = new byte[KeySize + 3];
            if (Convert.TryFromBase64String(base64.Trim(), buffer, out int written) && written == KeySize)
                key = buffer[..KeySize];
        }
        return key ?? throw new FormatException($"{what} is not a base64 32-byte WireGuard key");
    }

    /// <summary>The X25519 public key of a private key (clamped as RFC 7748 prescribes).</summary>
    public static byte[] PublicKeyOf(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != KeySize)
            throw new ArgumentException($"a WireGuard private key is {KeySize} bytes, not {privateKey.Length}", nameof(privateKey));
        var publicKey = new byte[KeySize];
        X25519.ScalarMultBase(privateKey, publicKey);
        return publicKey;
    }

    /// <summary>A fresh clamped private key and its public key.</summary>
    public static (byte[] Private, byte[] Public) Generate()
    {
        var privateKey = new byte[KeySize];
        RandomNumberGenerator.Fill(privateKey);
        X25519.ClampPrivateKey(privateKey);
        return (privateKey, PublicKeyOf(privateKey));
    }

    internal static string ToBase64(ReadOnlySpan<byte> key) => Convert.ToBase64String(key);
}
