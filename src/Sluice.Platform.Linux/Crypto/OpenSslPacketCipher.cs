using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Platform.Linux.Crypto;

/// <summary>
/// The WireGuard transport AEAD through libcrypto's EVP interface directly: one cipher context per direction, keyed
/// once, then per packet only the nonce, one update, final and the tag. The runtime's ChaCha20Poly1305 calls the same
/// library but clears the thread's error queue around each call, counts handle references and throws per forged
/// packet; on a WireGuard lane that wrapping cost about as much as the cipher (perf of two Sluice ends: libcrypto 37 %
/// of the samples, ERR_clear_error alone 7 %). Falls back when libcrypto.so.3 cannot be
/// loaded or does not give the runtime's answer on a self-test (then it makes the runtime's).
/// </summary>
public sealed unsafe partial class OpenSslPacketCipher : IPacketCipher
{
    private const string Lib = "libcrypto.so.3";
    private const int EVP_CTRL_AEAD_GET_TAG = 0x10, EVP_CTRL_AEAD_SET_TAG = 0x11;
    private const int TagSize = 16, NonceSize = 12, KeySize = 32;

    private nint _context;

    private OpenSslPacketCipher(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize) throw new ArgumentException($"a ChaCha20-Poly1305 key is {KeySize} bytes, not {key.Length}", nameof(key));
        _context = EVP_CIPHER_CTX_new();
        if (_context == 0) throw new OutOfMemoryException("EVP_CIPHER_CTX_new failed");
        fixed (byte* k = key)
        {
            if (EVP_CipherInit_ex(_context, EVP_chacha20_poly1305(), 0, k, null, 1) != 1)
            {
                EVP_CIPHER_CTX_free(_context);
                _context = 0;
                throw Failure("EVP_CipherInit_ex");
            }
        }
    }

    ~OpenSslPacketCipher() => Free();

    private static readonly Lazy<bool> s_usable = new(Probe);

    /// <summary>
    /// Makes libcrypto ciphers, or the runtime's where libcrypto.so.3 is missing or disagrees with the runtime on the
    /// self-test. libcrypto is loaded and tested at the first keypair, not before: an idle engine has not handshaken
    /// yet and should not map the library (3–4 MiB resident once initialised).
    /// </summary>
    public static readonly PacketCipherFactory Factory = key => s_usable.Value ? new OpenSslPacketCipher(key) : RuntimePacketCipher.Factory(key);

    /// <summary>True when <see cref="Factory"/> makes libcrypto ciphers (loads and tests libcrypto on first use).</summary>
    public static bool Usable => s_usable.Value;

    public void Seal(ReadOnlySpan<byte> nonce, Span<byte> data, Span<byte> tag)
    {
        CheckUsable(nonce.Length, tag.Length);
        fixed (byte* n = nonce) fixed (byte* d = data) fixed (byte* t = tag)
        {
            int written;
            if (EVP_CipherInit_ex(_context, 0, 0, null, n, 1) != 1) throw Failure("EVP_CipherInit_ex");
            // An update with no input would be read as associated data (out is null): an empty payload (a keepalive) has none.
            if (data.Length > 0 && EVP_CipherUpdate(_context, d, &written, d, data.Length) != 1) throw Failure("EVP_CipherUpdate");
            byte none; // the stream cipher's final writes nothing
            if (EVP_CipherFinal_ex(_context, &none, &written) != 1) throw Failure("EVP_CipherFinal_ex");
            if (EVP_CIPHER_CTX_ctrl(_context, EVP_CTRL_AEAD_GET_TAG, TagSize, t) != 1) throw Failure("EVP_CTRL_AEAD_GET_TAG");
        }
        GC.KeepAlive(this); // else the finalizer may free the context while libcrypto still works in it
    }

    public bool Open(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag)
    {
        CheckUsable(nonce.Length, tag.Length);
        fixed (byte* n = nonce) fixed (byte* d = data) fixed (byte* t = tag)
        {
            int written;
            if (EVP_CipherInit_ex(_context, 0, 0, null, n, 0) != 1) throw Failure("EVP_CipherInit_ex");
            if (EVP_CIPHER_CTX_ctrl(_context, EVP_CTRL_AEAD_SET_TAG, TagSize, t) != 1) throw Failure("EVP_CTRL_AEAD_SET_TAG");
            if (data.Length > 0 && EVP_CipherUpdate(_context, d, &written, d, data.Length) != 1) throw Failure("EVP_CipherUpdate");
            byte none;
            bool authentic = EVP_CipherFinal_ex(_context, &none, &written) == 1;
            GC.KeepAlive(this);
            if (authentic) return true;
        }
        // A forged or damaged packet: nothing of its decryption stays, and the error queue (if libcrypto left an entry) is emptied.
        CryptographicOperations.ZeroMemory(data);
        ERR_clear_error();
        return false;
    }

    private void CheckUsable(int nonceLength, int tagLength)
    {
        if (nonceLength != NonceSize || tagLength != TagSize) throw new ArgumentException("ChaCha20-Poly1305 takes a 12-byte nonce and a 16-byte tag");
        ObjectDisposedException.ThrowIf(_context == 0, this);
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        nint context = Interlocked.Exchange(ref _context, 0);
        if (context != 0) EVP_CIPHER_CTX_free(context); // it cleanses the key schedule
    }

    private static CryptographicException Failure(string call)
    {
        ulong code = ERR_get_error();
        ERR_clear_error();
        return new CryptographicException($"libcrypto {call} failed (error 0x{code:x})");
    }

    /// <summary>Loads libcrypto and checks a seal and an open against the runtime's ChaCha20Poly1305, and that a changed tag is refused.</summary>
    private static bool Probe()
    {
        if (!ChaCha20Poly1305.IsSupported || !NativeLibrary.TryLoad(Lib, out _)) return false;
        try
        {
            Span<byte> key = stackalloc byte[KeySize], nonce = stackalloc byte[NonceSize];
            Span<byte> plain = stackalloc byte[61], ours = stackalloc byte[61], theirs = stackalloc byte[61];
            Span<byte> ourTag = stackalloc byte[TagSize], theirTag = stackalloc byte[TagSize];
            RandomNumberGenerator.Fill(key);
            RandomNumberGenerator.Fill(nonce);
            RandomNumberGenerator.Fill(plain);
            using var runtime = new ChaCha20Poly1305(key);
            using var cipher = new OpenSslPacketCipher(key);
            plain.CopyTo(ours);
            cipher.Seal(nonce, ours, ourTag);
            runtime.Encrypt(nonce, plain, theirs, theirTag);
            if (!ours.SequenceEqual(theirs) || !ourTag.SequenceEqual(theirTag)) return false;
            if (!cipher.Open(nonce, ours, ourTag) || !ours.SequenceEqual(plain)) return false;
            theirTag[0] ^= 1;
            return !cipher.Open(nonce, theirs, theirTag);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CryptographicException)
        {
            return false;
        }
    }

    [LibraryImport(Lib)]
    private static partial nint EVP_CIPHER_CTX_new();

    [LibraryImport(Lib)]
    private static partial void EVP_CIPHER_CTX_free(nint context);

    [LibraryImport(Lib)]
    private static partial nint EVP_chacha20_poly1305();

    [LibraryImport(Lib)]
    private static partial int EVP_CipherInit_ex(nint context, nint cipher, nint engine, byte* key, byte* iv, int encrypt);

    [LibraryImport(Lib)]
    private static partial int EVP_CipherUpdate(nint context, byte* output, int* outputLength, byte* input, int inputLength);

    [LibraryImport(Lib)]
    private static partial int EVP_CipherFinal_ex(nint context, byte* output, int* outputLength);

    [LibraryImport(Lib)]
    private static partial int EVP_CIPHER_CTX_ctrl(nint context, int type, int argument, void* pointer);

    [LibraryImport(Lib)]
    private static partial ulong ERR_get_error();

    [LibraryImport(Lib)]
    private static partial void ERR_clear_error();
}
