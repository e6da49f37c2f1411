using System.Buffers;
using System.Net;
using Sluice.Core.Tun;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// One configured peer: its handshake, its sessions (current / previous / next) and its timers.
/// Threads: the data path reads <see cref="Current"/> and the timer stamps without locking; everything
/// that changes the handshake, the sessions or the queue holds <see cref="Sync"/>.
/// </summary>
public sealed partial class WireGuardPeer
{
    internal const long None = 0; // "timer not armed"; monotonic time is never 0 (see WireGuardDevice.Now)

    private readonly WireGuardDevice _device;
    private readonly Queue<(byte[] Packet, int Length)> _queue = new();
    private IPEndPoint? _endpoint;
    private long _lastHandshakeUtcTicks;
    private long _rxBytes;
    private long _txBytes;
    private Keypair? _current;
    private Keypair? _previous;
    private Keypair? _next;

    /// <summary>Written over bytes 1..3 of each datagram sent to this peer, after its MACs are computed; null = left zero.</summary>
    public byte[]? Reserved { get; }

    internal WireGuardPeer(WireGuardDevice device, int index, WireGuardPeerConfig config, ReadOnlySpan<byte> staticStatic)
    {
        _device = device;
        Index = index;
        Name = config.Name;
        PublicKey = config.PublicKey.ToArray();
        AllowedIps = config.AllowedIps.ToArray();
        _endpoint = config.Endpoint;
        PersistentKeepalive = config.PersistentKeepalive is { } interval && interval > TimeSpan.Zero ? interval.Ticks : 0;
        Reserved = config.Reserved is { Length: 3 } reserved ? reserved.ToArray() : null;
        Handshake = new NoiseHandshake(PublicKey, config.PresharedKey, staticStatic);
        Cookies = new CookieGenerator(PublicKey);
    }

    public string Name { get; }

    public byte[] PublicKey { get; }

    /// <summary>Where datagrams for this peer go; moves to the source of any authenticated packet (roaming).</summary>
    public IPEndPoint? Endpoint => Volatile.Read(ref _endpoint);

    /// <summary>When the last handshake completed (wall clock), null before the first.</summary>
    public DateTimeOffset? LastHandshake
    {
        get
        {
            long ticks = Volatile.Read(ref _lastHandshakeUtcTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <summary>Bytes of WireGuard datagrams received from / sent to this peer.</summary>
    public long RxBytes => Interlocked.Read(ref _rxBytes);

    public long TxBytes => Interlocked.Read(ref _txBytes);

    public IReadOnlyList<IpPrefix> AllowedIps { get; }

    public override string ToString() => Name;

    internal int Index { get; }

    internal Lock Sync { get; } = new();

    internal NoiseHandshake Handshake { get; }

    internal CookieGenerator Cookies { get; }

    /// <summary>Interval in ticks, 0 when off.</summary>
    internal long PersistentKeepalive { get; }

    internal Keypair? Current => Volatile.Read(ref _current);

    internal Keypair? Previous => Volatile.Read(ref _previous);

    internal Keypair? Next => Volatile.Read(ref _next);

    internal int QueuedCount
    {
        get { lock (Sync) return _queue.Count; }
    }

    /// <summary>Name and address for log lines: "office (10.0.0.2:51820)".</summary>
    internal string Describe(IPEndPoint? from = null) => $"{Name} ({(from ?? Endpoint)?.ToString() ?? "no endpoint"})";

    internal void AddRx(int bytes) => Interlocked.Add(ref _rxBytes, bytes);

    internal void AddTx(int bytes) => Interlocked.Add(ref _txBytes, bytes);

    /// <summary>Roaming (whitepaper §2.1): called only after a packet from <paramref name="from"/> authenticated.</summary>
    internal void UpdateEndpoint(IPEndPoint from)
    {
        var current = Volatile.Read(ref _endpoint);
        if (current is null || !current.Equals(from))
            Volatile.Write(ref _endpoint, new IPEndPoint(from.Address, from.Port)); // the caller may reuse its object
    }

    /// <summary>Copies a packet into the bounded queue, dropping the oldest when full. Caller holds <see cref="Sync"/>.</summary>
    internal void EnqueueLocked(ReadOnlySpan<byte> packet)
    {
        if (_queue.Count >= WireGuardLimits.MaxQueuedPackets)
        {
            var (oldest, _) = _queue.Dequeue();
            ArrayPool<byte>.Shared.Return(oldest);
        }
        var copy = ArrayPool<byte>.Shared.Rent(Math.Max(packet.Length, 1));
        packet.CopyTo(copy);
        _queue.Enqueue((copy, packet.Length));
    }

    internal bool TryDequeueLocked(out byte[] packet, out int length)
    {
        if (_queue.TryDequeue(out var item))
        {
            (packet, length) = item;
            return true;
        }
        packet = [];
        length = 0;
        return false;
    }

    internal int FlushQueueLocked()
    {
        int count = _queue.Count;
        while (_queue.TryDequeue(out var item)) ArrayPool<byte>.Shared.Return(item.Packet);
        return count;
    }

    /// <summary>
    /// Installs the keys of the handshake just finished (wireguard-go's BeginSymmetricSession). The
    /// initiator uses the new keypair at once (current; the old current stays as previous for packets in
    /// flight). The responder keeps it as next until the initiator's first data packet proves the
    /// initiator has it. Caller holds <see cref="Sync"/>.
    /// </summary>
    internal Keypair BeginSessionLocked(bool initiator, long now)
    {
        Span<byte> sendKey = stackalloc byte[NoiseCrypto.KeySize];
        Span<byte> receiveKey = stackalloc byte[NoiseCrypto.KeySize];
        uint localIndex = Handshake.LocalIndex;
        uint remoteIndex = Handshake.RemoteIndex;
        Handshake.DeriveTransportKeys(initiator, sendKey, receiveKey);
        var keypair = new Keypair(this, localIndex, remoteIndex, initiator, now, sendKey, receiveKey, _device.PacketCiphers);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(sendKey);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(receiveKey);
        _device.ClaimIndex(localIndex, keypair);

        var current = _current;
        var previous = _previous;
        var next = _next;
        if (initiator)
        {
            if (next is not null)
            {
                Volatile.Write(ref _next, null);
                Volatile.Write(ref _previous, next);
                Delete(current);
            }
            else
            {
                Volatile.Write(ref _previous, current);
            }
            Delete(previous);
            Volatile.Write(ref _current, keypair);
        }
        else
        {
            Volatile.Write(ref _next, keypair);
            Delete(next);
            Volatile.Write(ref _previous, null);
            Delete(previous);
        }
        _zeroKeysAt = Armed(now + 3 * WireGuardLimits.RejectAfterTime);
        _sentLastMinuteHandshake = false;
        return keypair;
    }

    /// <summary>First authenticated packet on the responder's next keypair: it becomes current. Caller holds <see cref="Sync"/>.</summary>
    internal bool ConfirmNextLocked(Keypair keypair, DateTimeOffset wallClock)
    {
        if (!ReferenceEquals(_next, keypair)) return false;
        var old = _previous;
        Volatile.Write(ref _previous, _current);
        Volatile.Write(ref _current, keypair);
        Volatile.Write(ref _next, null);
        Delete(old);
        HandshakeCompletedLocked(wallClock);
        return true;
    }

    /// <summary>wireguard-go's timersHandshakeComplete. Caller holds <see cref="Sync"/>.</summary>
    internal void HandshakeCompletedLocked(DateTimeOffset wallClock)
    {
        _retransmitAt = None;
        _handshakeAttempts = 0;
        Volatile.Write(ref _lastHandshakeUtcTicks, wallClock.UtcTicks);
    }

    /// <summary>Wipes every session and the handshake (3 × REJECT_AFTER_TIME without a new one). Caller holds <see cref="Sync"/>.</summary>
    internal void ZeroKeysLocked()
    {
        var current = _current;
        var previous = _previous;
        var next = _next;
        Volatile.Write(ref _current, null);
        Volatile.Write(ref _previous, null);
        Volatile.Write(ref _next, null);
        Delete(current);
        Delete(previous);
        Delete(next);
        _device.ReleaseIndex(Handshake.LocalIndex, this);
        Handshake.Clear();
        _zeroKeysAt = None;
    }

    private void Delete(Keypair? keypair)
    {
        if (keypair is null) return;
        _device.ReleaseIndex(keypair.LocalIndex, keypair);
        keypair.Dispose();
    }
}
