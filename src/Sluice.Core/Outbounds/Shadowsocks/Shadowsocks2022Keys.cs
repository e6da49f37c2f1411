using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// The keys of a Shadowsocks 2022 outbound (SIP022 §2.1 and the extensible identity headers, SIP023):
/// "password" is one base64 PSK, or "iPSK1:iPSK2:…:uPSK" where each identity PSK names a layer (a relay
/// or a multi-user server) and the last is the user's own. Each key has exactly the method's key size.
/// The session subkeys derive from the user PSK; identity headers go in front of the request.
/// </summary>
internal sealed class Shadowsocks2022Keys
{
    public const string IdentitySubkeyContext = "shadowsocks 2022 identity subkey";
    public const int IdentityHeaderSize = 16;

    private Shadowsocks2022Keys(byte[] user, byte[][] identities)
    {
        User = user;
        Identities = identities;
    }

    /// <summary>The user PSK (the only one without identity headers): it keys the session subkeys.</summary>
    public byte[] User { get; }

    /// <summary>The identity PSKs in path order (empty without identity headers).</summary>
    public byte[][] Identities { get; }

    /// <summary>The PSK that encrypts a UDP packet's separate header: the first identity PSK, else the user PSK.</summary>
    public byte[] SeparateHeaderKey => Identities.Length > 0 ? Identities[0] : User;

    /// <summary>
    /// Parses the password; on failure <paramref name="error"/> says which part is wrong and why, never
    /// showing a key (errors go to logs and terminals).
    /// </summary>
    public static Shadowsocks2022Keys? Parse(ShadowsocksMethod method, string password, out string? error)
    {
        string[] parts = password.Split(':');
        var keys = new byte[parts.Length][];
        for (int i = 0; i < parts.Length; i++)
        {
            string which = parts.Length == 1 ? "the key" : i == parts.Length - 1 ? $"the user key (part {i + 1} of {parts.Length})" : $"identity key {i + 1} of {parts.Length}";
            byte[] key;
            try
            {
                key = Convert.FromBase64String(parts[i].Trim());
            }
            catch (FormatException)
            {
                error = $"{which} is not base64 (a {method.Name} key is {method.KeySize} random bytes in base64, e.g. from `openssl rand -base64 {method.KeySize}`)";
                return null;
            }
            if (key.Length != method.KeySize)
            {
                error = $"{which} is {key.Length} bytes; {method.Name} needs exactly {method.KeySize} (`openssl rand -base64 {method.KeySize}`)";
                return null;
            }
            keys[i] = key;
        }
        if (parts.Length > 1 && method.Kind != AeadKind.AesGcm)
        {
            error = $"identity keys (iPSK:uPSK) exist only for the AES 2022 methods, not {method.Name}";
            return null;
        }
        error = null;
        return new Shadowsocks2022Keys(keys[^1], keys[..^1]);
    }

    /// <summary>
    /// The TCP identity headers for <paramref name="salt"/>: for each identity PSK in order,
    /// AES-ECB(derive_key("shadowsocks 2022 identity subkey", iPSK || salt), BLAKE3(next PSK)[0..16]).
    /// Returns the bytes written (16 per identity).
    /// </summary>
    public int WriteTcpIdentityHeaders(ReadOnlySpan<byte> salt, Span<byte> output)
    {
        Span<byte> material = stackalloc byte[64 + salt.Length];
        Span<byte> subkey = stackalloc byte[User.Length];
        Span<byte> hash = stackalloc byte[IdentityHeaderSize];
        for (int i = 0; i < Identities.Length; i++)
        {
            byte[] identity = Identities[i];
            identity.CopyTo(material);
            salt.CopyTo(material[identity.Length..]);
            Blake3.DeriveKey(IdentitySubkeyContext, material[..(identity.Length + salt.Length)], subkey);
            Blake3.Hash(i + 1 < Identities.Length ? Identities[i + 1] : User, hash);
            using var aes = Aes.Create();
            aes.Key = subkey.ToArray();
            aes.EncryptEcb(hash, output.Slice(i * IdentityHeaderSize, IdentityHeaderSize), PaddingMode.None);
        }
        CryptographicOperations.ZeroMemory(material);
        CryptographicOperations.ZeroMemory(subkey);
        return Identities.Length * IdentityHeaderSize;
    }

    /// <summary>
    /// The UDP identity headers of one packet: for each identity PSK, AES-ECB(iPSK, BLAKE3(next PSK)[0..16]
    /// XOR the plaintext separate header). Returns the bytes written.
    /// </summary>
    public int WriteUdpIdentityHeaders(ReadOnlySpan<byte> separateHeader, Span<byte> output)
    {
        Span<byte> block = stackalloc byte[IdentityHeaderSize];
        for (int i = 0; i < Identities.Length; i++)
        {
            Blake3.Hash(i + 1 < Identities.Length ? Identities[i + 1] : User, block);
            for (int b = 0; b < IdentityHeaderSize; b++) block[b] ^= separateHeader[b];
            using var aes = Aes.Create();
            aes.Key = Identities[i];
            aes.EncryptEcb(block, output.Slice(i * IdentityHeaderSize, IdentityHeaderSize), PaddingMode.None);
        }
        return Identities.Length * IdentityHeaderSize;
    }
}
