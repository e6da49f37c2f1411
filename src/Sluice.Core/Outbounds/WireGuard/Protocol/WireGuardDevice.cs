using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Sluice.Core.Routing;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// A WireGuard interface without I/O: the caller moves datagrams and IP packets, this object turns one
/// into the other and says what to send. Interoperable with wireguard-go and the Linux kernel.
/// 1. <see cref="Encapsulate"/> (TUN thread): destination → peer by allowed IPs → encrypt in place, or
///    queue the packet and start a handshake;
/// 2. <see cref="Decapsulate"/> (UDP thread): data → decrypt in place, replay and allowed-IPs checks;
///    handshake messages → response, cookie reply, or a session;
/// 3. <see cref="Tick"/> / <see cref="DrainQueued"/> (timer thread): retries, keepalives, rekeys,
///    key expiry, and packets that waited for a session.
/// The three may run concurrently. The data path takes no lock but the keypair's own uncontended one.
/// </summary>
public sealed partial class WireGuardDevice
{
    public const int TransportHeaderSize = WireGuardMessages.TransportHeaderSize;
    public const int TagSize = NoiseCrypto.TagSize;

    // Monotonic time starts here so that 0 can mean "timer not armed".
    private static readonly long TimeBase = TimeSpan.TicksPerDay * 365;

    private readonly TimeProvider _time;
    private readonly WireGuardPeer[] _peers;
    private readonly Dictionary<string, WireGuardPeer> _peersByKey = new(StringComparer.Ordinal);
    private readonly PrefixTrie _routes = new(); // cryptokey routing (whitepaper §2): prefix → peer index
    private readonly ConcurrentDictionary<uint, object> _indices = new(); // local index → WireGuardPeer (handshake) or Keypair
    private readonly CookieChecker _cookies;
    private readonly SourceRateLimiter _rateLimiter = new();
    private int _tickStart;

    /// <summary>Makes each new keypair's ciphers.</summary>
    internal PacketCipherFactory PacketCiphers { get; }

    /// <param name="packetCiphers">The transport AEAD; null: the runtime's ChaCha20Poly1305.</param>
    public WireGuardDevice(ReadOnlySpan<byte> privateKey, IEnumerable<WireGuardPeerConfig> peers, TimeProvider time, PacketCipherFactory? packetCiphers = null)
    {
        ArgumentNullException.ThrowIfNull(peers);
        ArgumentNullException.ThrowIfNull(time);
        if (privateKey.Length != WireGuardKeys.KeySize)
            throw new ArgumentException($"the WireGuard private key is {privateKey.Length} bytes; it must be {WireGuardKeys.KeySize} (base64 of 32 bytes, as `wg genkey` prints)", nameof(privateKey));
        _time = time;
        PacketCiphers = packetCiphers ?? RuntimePacketCipher.Factory;
        Identity = new StaticIdentity(privateKey.ToArray(), WireGuardKeys.PublicKeyOf(privateKey));
        _cookies = new CookieChecker(Identity.PublicKey);

        var list = new List<WireGuardPeer>();
        Span<byte> staticStatic = stackalloc byte[NoiseCrypto.KeySize];
        foreach (var config in peers)
        {
            string name = string.IsNullOrEmpty(config.Name) ? $"peer {list.Count}" : config.Name;
            if (config.PublicKey is not { Length: WireGuardKeys.KeySize })
                throw new ArgumentException($"WireGuard peer \"{name}\": the public key must be 32 bytes");
            if (config.PresharedKey is not null && config.PresharedKey.Length != WireGuardKeys.KeySize)
                throw new ArgumentException($"WireGuard peer \"{name}\": the preshared key must be 32 bytes");
            if (config.PublicKey.AsSpan().SequenceEqual(Identity.PublicKey))
                throw new ArgumentException($"WireGuard peer \"{name}\" has our own public key; a peer's key is the other side's");
            // Also refuses the all-zero key: every low-order point makes DH zero (whitepaper §5.4, "DH … zero").
            if (!NoiseCrypto.Dh(Identity.PrivateKey, config.PublicKey, staticStatic))
                throw new ArgumentException($"WireGuard peer \"{name}\": the public key is a low-order point (e.g. all zeros); WireGuard refuses it");
            string key = Convert.ToBase64String(config.PublicKey);
            if (_peersByKey.ContainsKey(key))
                throw new ArgumentException($"WireGuard peer \"{name}\": public key {key} is configured twice");
            var peer = new WireGuardPeer(this, list.Count, config with { Name = name }, staticStatic);
            _peersByKey.Add(key, peer);
            foreach (var prefix in config.AllowedIps) _routes.Set(prefix, peer.Index);
            list.Add(peer);
        }
        CryptographicOperations.ZeroMemory(staticStatic);
        _peers = [.. list];
    }

    public IReadOnlyList<WireGuardPeer> Peers => _peers;

    public byte[] PublicKey => Identity.PublicKey.ToArray();

    /// <summary>
    /// When true, handshake messages must carry a valid mac2 (else they get a cookie reply) and pass a
    /// per-source rate limit (20/s, burst 5). Set it from outside, or it turns itself on for a second when
    /// more than 128 handshake messages arrive within a second. Default off: it costs a round trip.
    /// </summary>
    public bool UnderLoad
    {
        get => _underLoadSet || Now() < Volatile.Read(ref _underLoadUntil);
        set => _underLoadSet = value;
    }

    /// <summary>Raised synchronously inside Decapsulate when a handshake completes (for a log line).</summary>
    public event Action<WireGuardPeer>? HandshakeCompleted;

    internal StaticIdentity Identity { get; }

    internal SourceRateLimiter RateLimiter => _rateLimiter;

    /// <summary>
    /// Encrypts the IP packet at buffer[offset..offset+length] in place: the transport header goes into the
    /// 16 bytes before it, the packet is zero-padded to a multiple of 16 and the tag appended. Requires
    /// offset ≥ 16 and buffer.Length ≥ offset + length + 31. Without a session the packet is copied into the
    /// peer's queue (1024 packets, oldest dropped) and an initiation is returned (written at buffer[0..148]),
    /// or None when one went out less than REKEY_TIMEOUT ago.
    /// </summary>
    public WgResult Encapsulate(Span<byte> buffer, int offset, int length) => Encapsulate(buffer, offset, length, Now());

    /// <summary><see cref="Encapsulate(Span{byte}, int, int)"/> at <paramref name="now"/> (<see cref="TimeOf"/> of a timestamp the caller read).</summary>
    public WgResult Encapsulate(Span<byte> buffer, int offset, int length, long now)
    {
        if (offset < TransportHeaderSize || length < 0 || (long)offset + length + (WireGuardLimits.PaddingMultiple - 1) + TagSize > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(length), $"Encapsulate needs 16 bytes of headroom and 31 of tailroom: offset {offset}, length {length}, buffer {buffer.Length}");
        var packet = buffer.Slice(offset, length);
        if (!TryReadAddress(packet, source: false, out bool isV4, out var destination))
            return WgResult.Drop($"outgoing packet of {length} bytes is neither IPv4 nor IPv6");
        int index = _routes.Longest(isV4, destination);
        if (index < 0)
            return WgResult.Drop($"no WireGuard peer's allowed IPs contain {FormatAddress(isV4, destination)}");
        var peer = _peers[index];
        var keypair = peer.SendableKeypair(now);
        if (keypair is not null && keypair.TryReserveCounter(out ulong counter))
        {
            int total = SealTransport(keypair, counter, buffer, offset, length);
            if (total > 0)
            {
                peer.OnAuthenticatedSent(now);
                peer.OnDataSent(now);
                peer.AddTx(total);
                peer.KeepKeyFreshSending(keypair, counter, now);
                return WgResult.Send(offset - TransportHeaderSize, total, peer);
            }
        }

        lock (peer.Sync)
        {
            peer.EnqueueLocked(packet);
            if (peer.TryInitiateLocked(buffer, now, isRetry: false, force: false, out int initiation)) return WgResult.Send(0, initiation, peer);
            long due = peer.NextDueLocked(now); // a packet waiting with no initiation in flight is due at once
            if (due != WireGuardPeer.None) NoteTimerArmed(due);
            return WgResult.Nothing;
        }
    }

    /// <summary>Sends one packet that waited for a session (at buffer[0..]); call until None after a handshake completes.</summary>
    public WgResult DrainQueued(Span<byte> buffer)
    {
        long now = Now();
        foreach (var peer in _peers)
        {
            Keypair? keypair;
            byte[] packet;
            int length;
            lock (peer.Sync)
            {
                keypair = peer.SendableKeypair(now);
                if (keypair is null || !peer.TryDequeueLocked(out packet, out length)) continue;
            }
            try
            {
                if (buffer.Length < TransportHeaderSize + length + (WireGuardLimits.PaddingMultiple - 1) + TagSize)
                    return WgResult.Drop($"queued packet of {length} bytes for {peer.Name} does not fit the {buffer.Length}-byte drain buffer", peer);
                packet.AsSpan(0, length).CopyTo(buffer[TransportHeaderSize..]);
                if (!keypair.TryReserveCounter(out ulong counter)) return WgResult.Drop($"session with {peer.Name} is exhausted; queued packet dropped", peer);
                int total = SealTransport(keypair, counter, buffer, TransportHeaderSize, length);
                if (total == 0) return WgResult.Drop($"session with {peer.Name} ended; queued packet dropped", peer);
                peer.OnAuthenticatedSent(now);
                peer.OnDataSent(now);
                peer.AddTx(total);
                peer.KeepKeyFreshSending(keypair, counter, now);
                return WgResult.Send(0, total, peer);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(packet);
            }
        }
        return WgResult.Nothing;
    }

    /// <summary>
    /// Runs the timers (call when <see cref="NextTimerDue"/> is reached, and loop until None): handshake retries and give-ups,
    /// keepalives, persistent keepalives, rekeys, key zeroing, and queued packets. Datagrams are written at
    /// buffer[0..] (at least 148 bytes; queued packets need their size + 47). Dropped results are for a log.
    /// </summary>
    public WgResult Tick(Span<byte> buffer)
    {
        long now = Now();
        int start = _tickStart;
        for (int i = 0; i < _peers.Length; i++)
        {
            var peer = _peers[(start + i) % _peers.Length];
            WgResult result;
            lock (peer.Sync) result = peer.TickLocked(buffer, now);
            if (result.Kind != WgResultKind.None)
            {
                _tickStart = (peer.Index + 1) % _peers.Length; // round robin: one busy peer cannot starve the others
                return result;
            }
        }
        return DrainQueued(buffer);
    }

    /// <summary>The earliest <see cref="Now"/> at which <see cref="Tick"/> has something to do; <see cref="long.MaxValue"/> when no timer is armed.</summary>
    public long NextTimerDue()
    {
        long now = Now(), due = long.MaxValue;
        foreach (var peer in _peers)
        {
            long next;
            lock (peer.Sync) next = peer.NextDueLocked(now);
            if (next != WireGuardPeer.None && next < due) due = next;
        }
        return due;
    }

    /// <summary>Starts a new handshake with every peer at the next Tick (network changed), even within REKEY_TIMEOUT.</summary>
    public void ForceHandshake()
    {
        foreach (var peer in _peers) peer.RequestForcedHandshake();
    }

    /// <summary>
    /// Writes a transport message around buffer[offset..offset+length]: header in the 16 bytes before,
    /// zero padding to a multiple of 16, tag after. Returns the datagram length, 0 if the keypair was disposed.
    /// </summary>
    internal static int SealTransport(Keypair keypair, ulong counter, Span<byte> buffer, int offset, int length)
    {
        int padded = (length + WireGuardLimits.PaddingMultiple - 1) & ~(WireGuardLimits.PaddingMultiple - 1);
        buffer.Slice(offset + length, padded - length).Clear();
        var header = buffer.Slice(offset - TransportHeaderSize, TransportHeaderSize);
        WireGuardMessages.WriteHeader(header, WireGuardMessages.TransportType);
        WireGuardMessages.WriteIndex(header, WireGuardMessages.TransportReceiver, keypair.RemoteIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(header[WireGuardMessages.TransportCounter..], counter);
        if (!keypair.Seal(counter, buffer.Slice(offset, padded), buffer.Slice(offset + padded, TagSize))) return 0;
        return TransportHeaderSize + padded + TagSize;
    }

    /// <summary>Monotonic time in ticks from the injected clock, never 0.</summary>
    internal long Now() => TimeOf(_time.GetTimestamp());

    /// <summary>
    /// <see cref="Now"/> of a timestamp of the device's clock: the data path reads the clock once per packet and derives
    /// both this and a flow's last-seen milliseconds from it. Without 128-bit arithmetic when the clock counts in a
    /// whole multiple of ticks (nanoseconds on Linux), as it does at every packet.
    /// </summary>
    public long TimeOf(long timestamp)
    {
        long frequency = _time.TimestampFrequency;
        long ticks = frequency == TimeSpan.TicksPerSecond ? timestamp
            : frequency % TimeSpan.TicksPerSecond == 0 ? timestamp / (frequency / TimeSpan.TicksPerSecond)
            : (long)((Int128)timestamp * TimeSpan.TicksPerSecond / frequency);
        return ticks + TimeBase;
    }

    internal DateTimeOffset WallClock() => _time.GetUtcNow();

    internal WireGuardPeer? FindPeer(ReadOnlySpan<byte> publicKey) =>
        _peersByKey.GetValueOrDefault(Convert.ToBase64String(publicKey));

    /// <summary>A fresh random local index for the peer's next handshake message; its previous one is freed.</summary>
    internal uint ReplaceHandshakeIndex(WireGuardPeer peer)
    {
        ReleaseIndex(peer.Handshake.LocalIndex, peer);
        Span<byte> random = stackalloc byte[4];
        while (true)
        {
            RandomNumberGenerator.Fill(random);
            uint index = BinaryPrimitives.ReadUInt32LittleEndian(random);
            if (index != 0 && _indices.TryAdd(index, peer)) return index;
        }
    }

    /// <summary>The handshake's index now names the session derived from it.</summary>
    internal void ClaimIndex(uint index, Keypair keypair) => _indices[index] = keypair;

    internal void ReleaseIndex(uint index, object owner)
    {
        if (index != 0) _indices.TryRemove(new KeyValuePair<uint, object>(index, owner));
    }

    internal int IndexCount => _indices.Count;

    private void RaiseHandshakeCompleted(WireGuardPeer peer) => HandshakeCompleted?.Invoke(peer);

    /// <summary>Reads an IP packet's source or destination address (no allocation).</summary>
    internal static bool TryReadAddress(ReadOnlySpan<byte> packet, bool source, out bool isV4, out UInt128 address)
    {
        isV4 = false;
        address = UInt128.Zero;
        if (packet.IsEmpty) return false;
        switch (packet[0] >> 4)
        {
            case 4 when packet.Length >= 20:
                isV4 = true;
                address = BinaryPrimitives.ReadUInt32BigEndian(packet[(source ? 12 : 16)..]);
                return true;
            case 6 when packet.Length >= 40:
                address = BinaryPrimitives.ReadUInt128BigEndian(packet[(source ? 8 : 24)..]);
                return true;
            default:
                return false;
        }
    }

    internal static string FormatAddress(bool isV4, UInt128 address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (isV4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)address);
            return new IPAddress(bytes[..4]).ToString();
        }
        BinaryPrimitives.WriteUInt128BigEndian(bytes, address);
        return new IPAddress(bytes).ToString();
    }
}
