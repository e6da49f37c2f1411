using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// The receiving half of the cookie mechanism (whitepaper §5.4.4, §5.4.7): mac1 proves the sender knows
/// our public key; under load, mac2 proves it received a cookie at its source address, and a message
/// without it gets a cookie reply instead of a DH computation. Thread-safe.
/// </summary>
internal sealed class CookieChecker
{
    private readonly byte[] _mac1Key;
    private readonly byte[] _cookieKey;
    private readonly byte[] _secret = new byte[NoiseCrypto.KeySize];
    private readonly Lock _lock = new();
    private long _secretSetAt = long.MinValue;

    // Keyed once: every handshake-sized datagram anyone sends is checked with it, so a flood of them allocates nothing.
    private readonly Org.BouncyCastle.Crypto.Digests.Blake2sDigest _mac1;
    private readonly Lock _mac1Lock = new();

    public CookieChecker(ReadOnlySpan<byte> ourPublicKey)
    {
        _mac1Key = NoiseCrypto.ComputeHash(NoiseCrypto.LabelMac1, ourPublicKey);
        _cookieKey = NoiseCrypto.ComputeHash(NoiseCrypto.LabelCookie, ourPublicKey);
        _mac1 = new Org.BouncyCastle.Crypto.Digests.Blake2sDigest(_mac1Key, NoiseCrypto.MacSize, null, null);
    }

    /// <summary>mac1 = MAC(HASH("mac1----" || our public key), message up to mac1).</summary>
    public bool CheckMac1(ReadOnlySpan<byte> message, int mac1Offset)
    {
        Span<byte> mac = stackalloc byte[NoiseCrypto.MacSize];
        lock (_mac1Lock)
        {
            _mac1.BlockUpdate(message[..mac1Offset]);
            _mac1.DoFinal(mac); // and back to the keyed initial state for the next message
        }
        return CryptographicOperations.FixedTimeEquals(mac, message.Slice(mac1Offset, NoiseCrypto.MacSize));
    }

    /// <summary>mac2 = MAC(cookie, message up to mac2), where cookie = MAC(secret, source IP || port) with a secret at most 2 minutes old.</summary>
    public bool CheckMac2(ReadOnlySpan<byte> message, int mac2Offset, IPEndPoint source, long now)
    {
        Span<byte> cookie = stackalloc byte[NoiseCrypto.MacSize];
        lock (_lock)
        {
            if (_secretSetAt == long.MinValue || now - _secretSetAt > WireGuardLimits.CookieRefreshTime) return false;
            MakeCookie(source, cookie);
        }
        Span<byte> mac = stackalloc byte[NoiseCrypto.MacSize];
        NoiseCrypto.Mac(cookie, message[..mac2Offset], mac);
        return CryptographicOperations.FixedTimeEquals(mac, message.Slice(mac2Offset, NoiseCrypto.MacSize));
    }

    /// <summary>Writes the 64-byte cookie reply to a message whose mac1 is at <paramref name="mac1Offset"/>.</summary>
    public void WriteReply(Span<byte> reply, ReadOnlySpan<byte> message, int mac1Offset, uint receiverIndex, IPEndPoint source, long now)
    {
        Span<byte> cookie = stackalloc byte[NoiseCrypto.MacSize];
        lock (_lock)
        {
            if (_secretSetAt == long.MinValue || now - _secretSetAt > WireGuardLimits.CookieRefreshTime)
            {
                RandomNumberGenerator.Fill(_secret);
                _secretSetAt = now;
            }
            MakeCookie(source, cookie);
        }
        Span<byte> mac1 = stackalloc byte[NoiseCrypto.MacSize];
        message.Slice(mac1Offset, NoiseCrypto.MacSize).CopyTo(mac1); // reply may alias message
        WireGuardMessages.WriteHeader(reply, WireGuardMessages.CookieReplyType);
        WireGuardMessages.WriteIndex(reply, WireGuardMessages.CookieReplyReceiver, receiverIndex);
        Span<byte> nonce = reply.Slice(WireGuardMessages.CookieReplyNonce, NoiseCrypto.XNonceSize);
        RandomNumberGenerator.Fill(nonce);
        NoiseCrypto.XSeal(_cookieKey, nonce, cookie, mac1, reply.Slice(WireGuardMessages.CookieReplyCookie, NoiseCrypto.MacSize + NoiseCrypto.TagSize));
    }

    private void MakeCookie(IPEndPoint source, Span<byte> cookie)
    {
        Span<byte> address = stackalloc byte[18];
        int length = SourceBytes(source, address);
        NoiseCrypto.Mac(_secret, address[..length], cookie);
    }

    /// <summary>The source as address bytes then big-endian port; IPv4-mapped IPv6 counts as IPv4.</summary>
    internal static int SourceBytes(IPEndPoint source, Span<byte> output)
    {
        var address = source.Address.IsIPv4MappedToIPv6 ? source.Address.MapToIPv4() : source.Address;
        address.TryWriteBytes(output, out int written);
        BinaryPrimitives.WriteUInt16BigEndian(output[written..], (ushort)source.Port);
        return written + 2;
    }
}

/// <summary>
/// The sending half, one per peer: adds mac1 (and mac2 while a cookie from that peer is fresh) to our
/// handshake messages, and decrypts the peer's cookie replies. Guarded by the peer's handshake lock.
/// </summary>
internal sealed class CookieGenerator
{
    private readonly byte[] _mac1Key;
    private readonly byte[] _cookieKey;
    private readonly byte[] _cookie = new byte[NoiseCrypto.MacSize];
    private readonly byte[] _lastMac1 = new byte[NoiseCrypto.MacSize];
    private long _cookieSetAt = long.MinValue;
    private bool _hasLastMac1;

    public CookieGenerator(ReadOnlySpan<byte> peerPublicKey)
    {
        _mac1Key = NoiseCrypto.ComputeHash(NoiseCrypto.LabelMac1, peerPublicKey);
        _cookieKey = NoiseCrypto.ComputeHash(NoiseCrypto.LabelCookie, peerPublicKey);
    }

    public bool HasFreshCookie(long now) => _cookieSetAt != long.MinValue && now - _cookieSetAt < WireGuardLimits.CookieRefreshTime;

    public void AddMacs(Span<byte> message, int mac1Offset, long now)
    {
        Span<byte> mac1 = message.Slice(mac1Offset, NoiseCrypto.MacSize);
        NoiseCrypto.Mac(_mac1Key, message[..mac1Offset], mac1);
        mac1.CopyTo(_lastMac1);
        _hasLastMac1 = true;
        int mac2Offset = mac1Offset + NoiseCrypto.MacSize;
        Span<byte> mac2 = message.Slice(mac2Offset, NoiseCrypto.MacSize);
        if (HasFreshCookie(now)) NoiseCrypto.Mac(_cookie, message[..mac2Offset], mac2);
        else mac2.Clear();
    }

    /// <summary>Decrypts a cookie reply to our last message; false if it does not authenticate against that message's mac1.</summary>
    public bool ConsumeReply(ReadOnlySpan<byte> reply, long now)
    {
        if (!_hasLastMac1) return false;
        Span<byte> cookie = stackalloc byte[NoiseCrypto.MacSize];
        if (!NoiseCrypto.XOpen(
                _cookieKey,
                reply.Slice(WireGuardMessages.CookieReplyNonce, NoiseCrypto.XNonceSize),
                reply.Slice(WireGuardMessages.CookieReplyCookie, NoiseCrypto.MacSize + NoiseCrypto.TagSize),
                _lastMac1,
                cookie))
            return false;
        cookie.CopyTo(_cookie);
        _cookieSetAt = now;
        _hasLastMac1 = false;
        return true;
    }
}

/// <summary>
/// Per-source token bucket for handshakes under load (wireguard-go ratelimiter.go): 20 per second, burst 5,
/// keyed by IPv4 address or IPv6 /64; idle entries are forgotten after a second. Thread-safe.
/// </summary>
internal sealed class SourceRateLimiter
{
    private const long PacketsPerSecond = 20;
    private const long Burst = 5;
    private static readonly long PacketCost = TimeSpan.TicksPerSecond / PacketsPerSecond;
    private static readonly long MaxTokens = PacketCost * Burst;
    private static readonly long ForgetAfter = TimeSpan.TicksPerSecond;

    private readonly Dictionary<UInt128, Entry> _entries = [];
    private readonly Lock _lock = new();
    private long _lastSweep = long.MinValue;

    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    public bool Allow(IPAddress address, long now)
    {
        UInt128 key = KeyOf(address);
        lock (_lock)
        {
            if (_lastSweep == long.MinValue || now - _lastSweep > ForgetAfter) Sweep(now);
            if (!_entries.TryGetValue(key, out var entry))
            {
                _entries[key] = new Entry { Tokens = MaxTokens - PacketCost, LastTime = now };
                return true;
            }
            entry.Tokens = Math.Min(MaxTokens, entry.Tokens + (now - entry.LastTime));
            entry.LastTime = now;
            if (entry.Tokens < PacketCost) return false;
            entry.Tokens -= PacketCost;
            return true;
        }
    }

    private void Sweep(long now)
    {
        _lastSweep = now;
        foreach (var (key, entry) in _entries)
            if (now - entry.LastTime > ForgetAfter) _entries.Remove(key);
    }

    private static UInt128 KeyOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        if (written == 4) return BinaryPrimitives.ReadUInt32BigEndian(bytes); // v4 keys are < 2^32
        // IPv6 by its /64 (one host owns a /64); bit 63 marks the family so no IPv6 key equals an IPv4 one.
        return ((UInt128)BinaryPrimitives.ReadUInt64BigEndian(bytes) << 64) | (UInt128.One << 63);
    }

    private sealed class Entry
    {
        public long Tokens;
        public long LastTime;
    }
}
