using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// One direction of a keypair's transport AEAD: ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce, a 16-byte tag
/// and no associated data, in place (whitepaper §5.4.6). The caller serialises calls (Keypair's locks).
/// </summary>
public interface IPacketCipher : IDisposable
{
    void Seal(ReadOnlySpan<byte> nonce, Span<byte> data, Span<byte> tag);

    /// <summary>Decrypts in place; false (and <paramref name="data"/> cleared) when the tag does not verify.</summary>
    bool Open(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag);
}

/// <summary>Makes the cipher of one direction from its 32-byte key.</summary>
public delegate IPacketCipher PacketCipherFactory(ReadOnlySpan<byte> key);

/// <summary>The runtime's ChaCha20Poly1305: works wherever .NET does; a platform may give a faster one (<see cref="EnginePlatform.PacketCiphers"/>).</summary>
public sealed class RuntimePacketCipher(ReadOnlySpan<byte> key) : IPacketCipher
{
    private readonly ChaCha20Poly1305 _aead = new(key);

    public static readonly PacketCipherFactory Factory = key => new RuntimePacketCipher(key);

    public void Seal(ReadOnlySpan<byte> nonce, Span<byte> data, Span<byte> tag) => _aead.Encrypt(nonce, data, data, tag);

    public bool Open(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag)
    {
        try
        {
            _aead.Decrypt(nonce, data, tag, data);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false; // the runtime has cleared the output
        }
    }

    public void Dispose() => _aead.Dispose();
}
