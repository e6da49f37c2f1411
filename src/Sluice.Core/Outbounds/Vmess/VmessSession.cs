using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Vmess;

/// <summary>The body security a VMess request names (the low nibble of its security byte).</summary>
public enum VmessSecurity : byte
{
    Aes128Gcm = 3,
    ChaCha20Poly1305 = 4,

    /// <summary>Chunks without encryption (lengths still masked).</summary>
    None = 5,

    /// <summary>"zero": sent as None without the chunk stream, so the body is the bare bytes (TCP only).</summary>
    Zero = 6,
}

/// <summary>The request options byte.</summary>
[Flags]
internal enum VmessOptions : byte
{
    ChunkStream = 0x01,
    ChunkMasking = 0x04,
    GlobalPadding = 0x08,
    AuthenticatedLength = 0x10,
}

/// <summary>
/// One VMess connection's body keys: the request's key and IV are random; the response's are the first 16
/// bytes of SHA-256 of them (the AEAD header's rule; the legacy header used MD5). V is the byte the server's
/// answer must echo.
/// </summary>
internal sealed class VmessSession
{
    public VmessSession(VmessSecurity security, bool globalPadding, bool authenticatedLength, ReadOnlySpan<byte> random = default)
    {
        byte[] bytes = random.Length == 33 ? random.ToArray() : RandomNumberGenerator.GetBytes(33);
        RequestKey = bytes[..16];
        RequestIv = bytes[16..32];
        ResponseV = bytes[32];
        ResponseKey = SHA256.HashData(RequestKey)[..16];
        ResponseIv = SHA256.HashData(RequestIv)[..16];
        Security = security == VmessSecurity.Zero ? VmessSecurity.None : security;
        if (security != VmessSecurity.Zero)
        {
            Options = VmessOptions.ChunkStream | VmessOptions.ChunkMasking;
            if (globalPadding) Options |= VmessOptions.GlobalPadding;
            if (authenticatedLength && security != VmessSecurity.None) Options |= VmessOptions.AuthenticatedLength;
        }
    }

    public byte[] RequestKey { get; }

    public byte[] RequestIv { get; }

    public byte[] ResponseKey { get; }

    public byte[] ResponseIv { get; }

    public byte ResponseV { get; }

    /// <summary>The security on the wire (zero goes out as None).</summary>
    public VmessSecurity Security { get; }

    public VmessOptions Options { get; }

    /// <summary>The body is a chunk stream (every security but zero).</summary>
    public bool Chunked => Options.HasFlag(VmessOptions.ChunkStream);

    public VmessChunkCodec RequestCodec(bool packets) => new(this, RequestKey, RequestIv, packets);

    public VmessChunkCodec ResponseCodec(bool packets) => new(this, ResponseKey, ResponseIv, packets);
}
