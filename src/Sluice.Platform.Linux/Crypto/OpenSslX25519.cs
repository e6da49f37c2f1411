using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Platform.Linux.Crypto;

/// <summary>
/// X25519 through libcrypto's EVP_PKEY interface (OpenSSL's x86-64 field arithmetic, fixed-base tables for the public
/// key): the own TLS client's key share costs ~10× less than BouncyCastle's managed ladder. A key is raw bytes on both
/// sides of the interface (Reality needs the private key), so each call makes and frees its EVP_PKEYs.
/// <see cref="OrManaged"/> falls back to <see cref="ManagedX25519"/> when libcrypto.so.3 cannot be loaded or does not
/// give the managed answer on a self-test; libcrypto is loaded at the first handshake, not before.
/// </summary>
public sealed unsafe partial class OpenSslX25519 : IX25519
{
    private const string Lib = "libcrypto.so.3";
    private const int NidX25519 = 1034, KeySize = 32;

    private static readonly Lazy<bool> s_usable = new(Probe);

    private OpenSslX25519()
    {
    }

    /// <summary>libcrypto's X25519 (loaded and tested on first use), else the managed one.</summary>
    public static IX25519 OrManaged { get; } = new Deferred();

    /// <summary>True when libcrypto's X25519 is used (loads and tests libcrypto on first use).</summary>
    public static bool Usable => s_usable.Value;

    internal static readonly OpenSslX25519 Instance = new();

    public void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        if (privateKey.Length != KeySize || publicKey.Length != KeySize) throw new ArgumentException($"X25519 keys are {KeySize} bytes");
        nint key = NewPrivate(privateKey);
        try
        {
            nuint length = KeySize;
            fixed (byte* p = publicKey)
                if (EVP_PKEY_get_raw_public_key(key, p, &length) != 1 || length != KeySize) throw Failure("EVP_PKEY_get_raw_public_key");
        }
        finally
        {
            EVP_PKEY_free(key);
        }
    }

    public bool Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublicKey, Span<byte> shared)
    {
        if (privateKey.Length != KeySize || shared.Length != KeySize) throw new ArgumentException($"X25519 keys and secrets are {KeySize} bytes");
        if (peerPublicKey.Length != KeySize) return false;
        nint key = NewPrivate(privateKey), peer = 0, context = 0;
        try
        {
            fixed (byte* p = peerPublicKey) peer = EVP_PKEY_new_raw_public_key(NidX25519, 0, p, KeySize);
            if (peer == 0) throw Failure("EVP_PKEY_new_raw_public_key");
            context = EVP_PKEY_CTX_new(key, 0);
            if (context == 0 || EVP_PKEY_derive_init(context) != 1 || EVP_PKEY_derive_set_peer(context, peer) != 1) throw Failure("EVP_PKEY_derive_init");
            nuint length = KeySize;
            fixed (byte* s = shared)
            {
                // libcrypto refuses an all-zero result (a low-order peer point, RFC 7748 §6.1): that is the false case.
                if (EVP_PKEY_derive(context, s, &length) == 1 && length == KeySize) return true;
            }
            ERR_clear_error();
            shared.Clear();
            return false;
        }
        finally
        {
            if (context != 0) EVP_PKEY_CTX_free(context);
            if (peer != 0) EVP_PKEY_free(peer);
            EVP_PKEY_free(key);
        }
    }

    private static nint NewPrivate(ReadOnlySpan<byte> privateKey)
    {
        nint key;
        fixed (byte* k = privateKey) key = EVP_PKEY_new_raw_private_key(NidX25519, 0, k, KeySize);
        return key != 0 ? key : throw Failure("EVP_PKEY_new_raw_private_key");
    }

    private static CryptographicException Failure(string call)
    {
        ulong code = ERR_get_error();
        ERR_clear_error();
        return new CryptographicException($"libcrypto {call} failed (error 0x{code:x})");
    }

    /// <summary>Loads libcrypto and checks a public key and an agreement against the managed X25519, and that a low-order point is refused.</summary>
    private static bool Probe()
    {
        if (!NativeLibrary.TryLoad(Lib, out _)) return false;
        try
        {
            Span<byte> a = stackalloc byte[KeySize], b = stackalloc byte[KeySize];
            Span<byte> ours = stackalloc byte[KeySize], theirs = stackalloc byte[KeySize];
            Span<byte> sharedOurs = stackalloc byte[KeySize], sharedTheirs = stackalloc byte[KeySize];
            RandomNumberGenerator.Fill(a);
            RandomNumberGenerator.Fill(b);
            Instance.PublicKey(a, ours);
            ManagedX25519.Instance.PublicKey(a, theirs);
            if (!ours.SequenceEqual(theirs)) return false;
            ManagedX25519.Instance.PublicKey(b, theirs);
            if (!Instance.Agree(a, theirs, sharedOurs) || !ManagedX25519.Instance.Agree(a, theirs, sharedTheirs)) return false;
            if (!sharedOurs.SequenceEqual(sharedTheirs)) return false;
            Span<byte> lowOrder = stackalloc byte[KeySize]; // the point 0: every product is 0
            return !Instance.Agree(a, lowOrder, sharedOurs);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or CryptographicException)
        {
            return false;
        }
    }

    /// <summary>Decides at the first call (not at start-up: an idle engine should not map libcrypto).</summary>
    private sealed class Deferred : IX25519
    {
        private static IX25519 Chosen => s_usable.Value ? Instance : ManagedX25519.Instance;

        public void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey) => Chosen.PublicKey(privateKey, publicKey);

        public bool Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublicKey, Span<byte> shared) => Chosen.Agree(privateKey, peerPublicKey, shared);
    }

    [LibraryImport(Lib)]
    private static partial nint EVP_PKEY_new_raw_private_key(int type, nint engine, byte* key, nuint length);

    [LibraryImport(Lib)]
    private static partial nint EVP_PKEY_new_raw_public_key(int type, nint engine, byte* key, nuint length);

    [LibraryImport(Lib)]
    private static partial int EVP_PKEY_get_raw_public_key(nint key, byte* output, nuint* length);

    [LibraryImport(Lib)]
    private static partial void EVP_PKEY_free(nint key);

    [LibraryImport(Lib)]
    private static partial nint EVP_PKEY_CTX_new(nint key, nint engine);

    [LibraryImport(Lib)]
    private static partial void EVP_PKEY_CTX_free(nint context);

    [LibraryImport(Lib)]
    private static partial int EVP_PKEY_derive_init(nint context);

    [LibraryImport(Lib)]
    private static partial int EVP_PKEY_derive_set_peer(nint context, nint peer);

    [LibraryImport(Lib)]
    private static partial int EVP_PKEY_derive(nint context, byte* key, nuint* length);

    [LibraryImport(Lib)]
    private static partial ulong ERR_get_error();

    [LibraryImport(Lib)]
    private static partial void ERR_clear_error();
}
