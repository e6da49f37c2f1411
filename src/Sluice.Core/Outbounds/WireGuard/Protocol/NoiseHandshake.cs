using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc7748;
using static Sluice.Core.Outbounds.WireGuard.WireGuardMessages;

namespace Sluice.Core.Outbounds.WireGuard;

internal enum HandshakeState
{
    Zeroed,
    InitiationCreated,
    InitiationConsumed,
    ResponseCreated,
    ResponseConsumed,
}

internal enum InitiationVerdict
{
    Accepted,
    TimestampDoesNotDecrypt,
    Replayed,
    Flood,
}

/// <summary>Our static key pair.</summary>
internal sealed class StaticIdentity(byte[] privateKey, byte[] publicKey)
{
    public byte[] PrivateKey { get; } = privateKey;

    public byte[] PublicKey { get; } = publicKey;
}

/// <summary>
/// One peer's Noise_IKpsk2 handshake state (whitepaper §5.4.2–5.4.4):
/// <code>
///   initiator → responder:  e, es, s, ss, {timestamp}
///   responder → initiator:  e, ee, se, psk, {}
/// </code>
/// then both derive (T_send, T_recv) = KDF2(C, ε). Not thread-safe: the peer's handshake lock guards it.
/// A message is only committed to the state once it has fully authenticated.
/// </summary>
internal sealed class NoiseHandshake
{
    public const long Never = long.MinValue;

    private readonly byte[] _hash = new byte[NoiseCrypto.HashSize];
    private readonly byte[] _chainKey = new byte[NoiseCrypto.HashSize];
    private readonly byte[] _ephemeralPrivate = new byte[NoiseCrypto.KeySize];
    private readonly byte[] _remoteEphemeral = new byte[NoiseCrypto.KeySize];
    private readonly byte[] _remoteStatic;
    private readonly byte[] _presharedKey;
    private readonly byte[] _staticStatic;

    public NoiseHandshake(ReadOnlySpan<byte> remoteStatic, ReadOnlySpan<byte> presharedKey, ReadOnlySpan<byte> staticStatic)
    {
        _remoteStatic = remoteStatic.ToArray();
        _presharedKey = presharedKey.IsEmpty ? new byte[NoiseCrypto.KeySize] : presharedKey.ToArray();
        _staticStatic = staticStatic.ToArray();
    }

    public HandshakeState State { get; private set; }

    /// <summary>Our index for the message we last created (0 when none is outstanding).</summary>
    public uint LocalIndex { get; set; }

    public uint RemoteIndex { get; private set; }

    /// <summary>The greatest TAI64N timestamp accepted from this peer: an initiation must carry a later one.</summary>
    public byte[] LastTimestamp { get; } = new byte[NoiseCrypto.TimestampSize];

    public long LastInitiationConsumedAt { get; private set; } = Never;

    /// <summary>When we last sent an initiation or a response (monotonic ticks).</summary>
    public long LastSentAt { get; set; } = Never;

    /// <summary>Writes message 1 into <paramref name="message"/> (148 bytes, macs left for the cookie generator).</summary>
    public void WriteInitiation(Span<byte> message, StaticIdentity local, uint localIndex, DateTimeOffset wallClock)
    {
        NoiseCrypto.Hash(NoiseCrypto.InitialHash, _remoteStatic, _hash);
        NoiseCrypto.InitialChainKey.CopyTo(_chainKey);

        Span<byte> ephemeral = message.Slice(InitiationEphemeral, NoiseCrypto.KeySize);
        NewEphemeral(ephemeral);
        NoiseCrypto.MixHash(_hash, ephemeral);
        NoiseCrypto.Kdf(_chainKey, ephemeral, _chainKey);

        Span<byte> shared = stackalloc byte[NoiseCrypto.KeySize];
        Span<byte> key = stackalloc byte[NoiseCrypto.KeySize];
        // es: the remote static key was checked not to be low order when the peer was configured.
        if (!NoiseCrypto.Dh(_ephemeralPrivate, _remoteStatic, shared))
            throw new InvalidOperationException("DH with the peer's static key is zero");
        NoiseCrypto.Kdf(_chainKey, shared, _chainKey, key);
        Span<byte> encryptedStatic = message.Slice(InitiationStatic, NoiseCrypto.KeySize + NoiseCrypto.TagSize);
        NoiseCrypto.Seal(key, 0, local.PublicKey, _hash, encryptedStatic);
        NoiseCrypto.MixHash(_hash, encryptedStatic);

        // ss
        NoiseCrypto.Kdf(_chainKey, _staticStatic, _chainKey, key);
        Span<byte> timestamp = stackalloc byte[NoiseCrypto.TimestampSize];
        NoiseCrypto.Tai64N(wallClock, timestamp);
        Span<byte> encryptedTimestamp = message.Slice(InitiationTimestamp, NoiseCrypto.TimestampSize + NoiseCrypto.TagSize);
        NoiseCrypto.Seal(key, 0, timestamp, _hash, encryptedTimestamp);
        NoiseCrypto.MixHash(_hash, encryptedTimestamp);

        WriteHeader(message, InitiationType);
        WriteIndex(message, InitiationSender, localIndex);
        LocalIndex = localIndex;
        State = HandshakeState.InitiationCreated;
        CryptographicOperations.ZeroMemory(shared);
        CryptographicOperations.ZeroMemory(key);
    }

    /// <summary>
    /// The part of consuming message 1 that needs only our key: e, es, s. Yields the initiator's static key
    /// (to find the peer) and the running hash and chaining key for <see cref="ConsumeInitiation"/>.
    /// </summary>
    public static bool TryOpenInitiation(ReadOnlySpan<byte> message, StaticIdentity local, Span<byte> hash, Span<byte> chainKey, Span<byte> peerStatic)
    {
        ReadOnlySpan<byte> ephemeral = message.Slice(InitiationEphemeral, NoiseCrypto.KeySize);
        NoiseCrypto.Hash(NoiseCrypto.InitialHash, local.PublicKey, hash);
        NoiseCrypto.MixHash(hash, ephemeral);
        NoiseCrypto.Kdf(NoiseCrypto.InitialChainKey, ephemeral, chainKey);

        Span<byte> shared = stackalloc byte[NoiseCrypto.KeySize];
        Span<byte> key = stackalloc byte[NoiseCrypto.KeySize];
        if (!NoiseCrypto.Dh(local.PrivateKey, ephemeral, shared)) return false; // low-order ephemeral
        NoiseCrypto.Kdf(chainKey, shared, chainKey, key);
        ReadOnlySpan<byte> encryptedStatic = message.Slice(InitiationStatic, NoiseCrypto.KeySize + NoiseCrypto.TagSize);
        bool opened = NoiseCrypto.Open(key, 0, encryptedStatic, hash, peerStatic);
        NoiseCrypto.MixHash(hash, encryptedStatic);
        CryptographicOperations.ZeroMemory(shared);
        CryptographicOperations.ZeroMemory(key);
        return opened;
    }

    /// <summary>Finishes consuming message 1 for this peer (ss, {timestamp}) and applies the replay and flood checks.</summary>
    public InitiationVerdict ConsumeInitiation(ReadOnlySpan<byte> message, ReadOnlySpan<byte> openedHash, ReadOnlySpan<byte> openedChainKey, long now)
    {
        Span<byte> hash = stackalloc byte[NoiseCrypto.HashSize];
        Span<byte> chainKey = stackalloc byte[NoiseCrypto.HashSize];
        Span<byte> key = stackalloc byte[NoiseCrypto.KeySize];
        Span<byte> timestamp = stackalloc byte[NoiseCrypto.TimestampSize];
        openedHash.CopyTo(hash);
        NoiseCrypto.Kdf(openedChainKey, _staticStatic, chainKey, key);
        ReadOnlySpan<byte> encryptedTimestamp = message.Slice(InitiationTimestamp, NoiseCrypto.TimestampSize + NoiseCrypto.TagSize);
        if (!NoiseCrypto.Open(key, 0, encryptedTimestamp, hash, timestamp)) return InitiationVerdict.TimestampDoesNotDecrypt;
        NoiseCrypto.MixHash(hash, encryptedTimestamp);

        // TAI64N compares as big-endian bytes; an equal or older one is a replay of a captured message.
        if (timestamp.SequenceCompareTo(LastTimestamp) <= 0) return InitiationVerdict.Replayed;
        if (LastInitiationConsumedAt != Never && now - LastInitiationConsumedAt <= WireGuardLimits.HandshakeInitiationRate)
            return InitiationVerdict.Flood;

        hash.CopyTo(_hash);
        chainKey.CopyTo(_chainKey);
        message.Slice(InitiationEphemeral, NoiseCrypto.KeySize).CopyTo(_remoteEphemeral);
        timestamp.CopyTo(LastTimestamp);
        LastInitiationConsumedAt = now;
        RemoteIndex = ReadIndex(message, InitiationSender);
        State = HandshakeState.InitiationConsumed;
        return InitiationVerdict.Accepted;
    }

    /// <summary>Writes message 2 (92 bytes, macs left for the cookie generator) after a consumed initiation.</summary>
    public bool WriteResponse(Span<byte> message, uint localIndex)
    {
        if (State != HandshakeState.InitiationConsumed) return false;
        Span<byte> ephemeral = message.Slice(ResponseEphemeral, NoiseCrypto.KeySize);
        NewEphemeral(ephemeral);
        NoiseCrypto.MixHash(_hash, ephemeral);
        NoiseCrypto.Kdf(_chainKey, ephemeral, _chainKey);

        Span<byte> shared = stackalloc byte[NoiseCrypto.KeySize];
        if (!NoiseCrypto.Dh(_ephemeralPrivate, _remoteEphemeral, shared)) return false; // ee
        NoiseCrypto.Kdf(_chainKey, shared, _chainKey);
        if (!NoiseCrypto.Dh(_ephemeralPrivate, _remoteStatic, shared)) return false; // se
        NoiseCrypto.Kdf(_chainKey, shared, _chainKey);

        Span<byte> tau = stackalloc byte[NoiseCrypto.HashSize];
        Span<byte> key = stackalloc byte[NoiseCrypto.KeySize];
        NoiseCrypto.Kdf(_chainKey, _presharedKey, _chainKey, tau, key); // psk
        NoiseCrypto.MixHash(_hash, tau);
        Span<byte> empty = message.Slice(ResponseEmpty, NoiseCrypto.TagSize);
        NoiseCrypto.Seal(key, 0, default, _hash, empty);
        NoiseCrypto.MixHash(_hash, empty);

        WriteHeader(message, ResponseType);
        WriteIndex(message, ResponseSender, localIndex);
        WriteIndex(message, ResponseReceiver, RemoteIndex);
        LocalIndex = localIndex;
        State = HandshakeState.ResponseCreated;
        CryptographicOperations.ZeroMemory(shared);
        CryptographicOperations.ZeroMemory(key);
        return true;
    }

    /// <summary>Consumes message 2 for the initiation we created; false if it does not authenticate (wrong key or preshared key).</summary>
    public bool ConsumeResponse(ReadOnlySpan<byte> message, StaticIdentity local)
    {
        if (State != HandshakeState.InitiationCreated || ReadIndex(message, ResponseReceiver) != LocalIndex) return false;
        Span<byte> hash = stackalloc byte[NoiseCrypto.HashSize];
        Span<byte> chainKey = stackalloc byte[NoiseCrypto.HashSize];
        _hash.CopyTo(hash);
        _chainKey.CopyTo(chainKey);

        ReadOnlySpan<byte> ephemeral = message.Slice(ResponseEphemeral, NoiseCrypto.KeySize);
        NoiseCrypto.MixHash(hash, ephemeral);
        NoiseCrypto.Kdf(chainKey, ephemeral, chainKey);
        Span<byte> shared = stackalloc byte[NoiseCrypto.KeySize];
        if (!NoiseCrypto.Dh(_ephemeralPrivate, ephemeral, shared)) return false; // ee
        NoiseCrypto.Kdf(chainKey, shared, chainKey);
        if (!NoiseCrypto.Dh(local.PrivateKey, ephemeral, shared)) return false; // se
        NoiseCrypto.Kdf(chainKey, shared, chainKey);

        Span<byte> tau = stackalloc byte[NoiseCrypto.HashSize];
        Span<byte> key = stackalloc byte[NoiseCrypto.KeySize];
        NoiseCrypto.Kdf(chainKey, _presharedKey, chainKey, tau, key);
        NoiseCrypto.MixHash(hash, tau);
        ReadOnlySpan<byte> empty = message.Slice(ResponseEmpty, NoiseCrypto.TagSize);
        if (!NoiseCrypto.Open(key, 0, empty, hash, default)) return false;
        NoiseCrypto.MixHash(hash, empty);

        hash.CopyTo(_hash);
        chainKey.CopyTo(_chainKey);
        RemoteIndex = ReadIndex(message, ResponseSender);
        State = HandshakeState.ResponseConsumed;
        CryptographicOperations.ZeroMemory(shared);
        CryptographicOperations.ZeroMemory(key);
        return true;
    }

    /// <summary>
    /// (T_send, T_recv) := KDF2(C, ε) from the initiator's view; the responder swaps them. Wipes the
    /// ephemeral state afterwards; timestamps and rate-limit times survive.
    /// </summary>
    public void DeriveTransportKeys(bool initiator, Span<byte> sendKey, Span<byte> receiveKey)
    {
        if (initiator) NoiseCrypto.Kdf(_chainKey, default, sendKey, receiveKey);
        else NoiseCrypto.Kdf(_chainKey, default, receiveKey, sendKey);
        Clear();
    }

    /// <summary>Forgets the in-progress handshake (not the replay/flood state).</summary>
    public void Clear()
    {
        CryptographicOperations.ZeroMemory(_hash);
        CryptographicOperations.ZeroMemory(_chainKey);
        CryptographicOperations.ZeroMemory(_ephemeralPrivate);
        CryptographicOperations.ZeroMemory(_remoteEphemeral);
        LocalIndex = 0;
        RemoteIndex = 0;
        State = HandshakeState.Zeroed;
    }

    private void NewEphemeral(Span<byte> publicKey)
    {
        RandomNumberGenerator.Fill(_ephemeralPrivate);
        X25519.ClampPrivateKey(_ephemeralPrivate);
        X25519.ScalarMultBase(_ephemeralPrivate, publicKey);
    }
}
