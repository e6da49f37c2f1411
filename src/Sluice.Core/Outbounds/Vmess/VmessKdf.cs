using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Outbounds.Vmess;

/// <summary>
/// VMess AEAD's key derivation (the "VMess AEAD KDF" of v2fly's VMess description): HMAC-SHA256 keyed with
/// "VMess AEAD KDF" is the hash of an HMAC keyed with the first path element, which is the hash of one keyed
/// with the next, and so on; the key material is the message of the outermost HMAC. Every hash in the chain
/// has SHA-256's 64-byte block and 32-byte output. Used per connection (never per chunk), so plain arrays.
/// </summary>
internal static class VmessKdf
{
    private static readonly byte[] Root = "VMess AEAD KDF"u8.ToArray();
    private const int BlockSize = 64;

    public static readonly byte[] AuthIdKey = "AES Auth ID Encryption"u8.ToArray();
    public static readonly byte[] ResponseLengthKey = "AEAD Resp Header Len Key"u8.ToArray();
    public static readonly byte[] ResponseLengthIv = "AEAD Resp Header Len IV"u8.ToArray();
    public static readonly byte[] ResponseKey = "AEAD Resp Header Key"u8.ToArray();
    public static readonly byte[] ResponseIv = "AEAD Resp Header IV"u8.ToArray();
    public static readonly byte[] HeaderKey = "VMess Header AEAD Key"u8.ToArray();
    public static readonly byte[] HeaderIv = "VMess Header AEAD Nonce"u8.ToArray();
    public static readonly byte[] HeaderLengthKey = "VMess Header AEAD Key_Length"u8.ToArray();
    public static readonly byte[] HeaderLengthIv = "VMess Header AEAD Nonce_Length"u8.ToArray();
    public static readonly byte[] AuthenticatedLength = "auth_len"u8.ToArray();

    /// <summary>KDF(key, path…): 32 bytes.</summary>
    public static byte[] Derive(ReadOnlySpan<byte> key, params ReadOnlySpan<byte[]> path) => Hash(path.ToArray(), path.Length, key.ToArray());

    /// <summary>The first 16 bytes of <see cref="Derive"/>: AES-128 keys.</summary>
    public static byte[] Derive16(ReadOnlySpan<byte> key, params ReadOnlySpan<byte[]> path) => Derive(key, path)[..16];

    /// <summary>The first 12 bytes of <see cref="Derive"/>: AEAD nonces.</summary>
    public static byte[] Derive12(ReadOnlySpan<byte> key, params ReadOnlySpan<byte[]> path) => Derive(key, path)[..12];

    /// <summary>The hash at <paramref name="level"/>: 0 = HMAC-SHA256 under "VMess AEAD KDF", n = HMAC under path[n-1] over level n−1.</summary>
    private static byte[] Hash(byte[][] path, int level, byte[] message)
    {
        if (level == 0) return HMACSHA256.HashData(Root, message);
        byte[] key = path[level - 1];
        if (key.Length > BlockSize) key = Hash(path, level - 1, key);
        byte[] inner = new byte[BlockSize + message.Length];
        byte[] outer = new byte[BlockSize + 32];
        for (int i = 0; i < BlockSize; i++)
        {
            byte k = i < key.Length ? key[i] : (byte)0;
            inner[i] = (byte)(k ^ 0x36);
            outer[i] = (byte)(k ^ 0x5C);
        }
        message.CopyTo(inner, BlockSize);
        Hash(path, level - 1, inner).CopyTo(outer, BlockSize);
        return Hash(path, level - 1, outer);
    }

    /// <summary>The user's command key: MD5(uuid ‖ "c48619fe-8f02-49e0-b9e9-edf763e17e21").</summary>
    public static byte[] CommandKey(ReadOnlySpan<byte> uuid)
    {
        Span<byte> input = stackalloc byte[16 + 36];
        uuid.CopyTo(input);
        Encoding.ASCII.GetBytes("c48619fe-8f02-49e0-b9e9-edf763e17e21", input[16..]);
        return MD5.HashData(input);
    }
}
