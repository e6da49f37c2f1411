namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// One session's transport keys (whitepaper §5.4.5). The send side reserves counters with Interlocked and
/// holds its own cipher under a lock that only the sending threads touch; the receive side holds another
/// cipher and the replay window under a second lock. Both locks are uncontended in the usual split (TUN
/// thread sends, UDP thread receives); they exist so the timer thread's keepalives and a concurrent
/// disposal cannot corrupt a cipher. Nothing here allocates per packet.
/// </summary>
internal sealed class Keypair : IDisposable
{
    private readonly IPacketCipher _send;
    private readonly IPacketCipher _receive;
    private readonly Lock _sendLock = new();
    private readonly Lock _receiveLock = new();
    private readonly ReplayWindow _replay = new();
    private ulong _nextSendCounter;
    private bool _disposed;

    public Keypair(WireGuardPeer peer, uint localIndex, uint remoteIndex, bool isInitiator, long createdAt, ReadOnlySpan<byte> sendKey, ReadOnlySpan<byte> receiveKey,
        PacketCipherFactory? ciphers = null)
    {
        Peer = peer;
        LocalIndex = localIndex;
        RemoteIndex = remoteIndex;
        IsInitiator = isInitiator;
        CreatedAt = createdAt;
        ciphers ??= RuntimePacketCipher.Factory;
        _send = ciphers(sendKey);
        _receive = ciphers(receiveKey);
    }

    public WireGuardPeer Peer { get; }

    public uint LocalIndex { get; }

    public uint RemoteIndex { get; }

    /// <summary>True on the side that sent the initiation; only it rekeys on age (whitepaper §6.2).</summary>
    public bool IsInitiator { get; }

    /// <summary>Monotonic ticks at derivation.</summary>
    public long CreatedAt { get; }

    public ulong NextSendCounter => Volatile.Read(ref _nextSendCounter);

    public bool IsDisposed => Volatile.Read(ref _disposed);

    /// <summary>True while this keypair may still send: younger than REJECT_AFTER_TIME and under REJECT_AFTER_MESSAGES.</summary>
    public bool CanSend(long now) =>
        !IsDisposed && now - CreatedAt < WireGuardLimits.RejectAfterTime && NextSendCounter < WireGuardLimits.RejectAfterMessages;

    public bool CanReceive(long now) => !IsDisposed && now - CreatedAt < WireGuardLimits.RejectAfterTime;

    /// <summary>Takes the next nonce; false once REJECT_AFTER_MESSAGES is reached.</summary>
    public bool TryReserveCounter(out ulong counter)
    {
        counter = Interlocked.Increment(ref _nextSendCounter) - 1;
        return counter < WireGuardLimits.RejectAfterMessages;
    }

    /// <summary>Encrypts <paramref name="data"/> in place and writes the tag; false when the keypair was disposed meanwhile.</summary>
    public bool Seal(ulong counter, Span<byte> data, Span<byte> tag)
    {
        Span<byte> nonce = stackalloc byte[12];
        NoiseCrypto.WriteNonce(nonce, counter);
        lock (_sendLock)
        {
            if (_disposed) return false;
            _send.Seal(nonce, data, tag);
            return true;
        }
    }

    /// <summary>
    /// Decrypts <paramref name="data"/> in place if the tag verifies and the counter passes the replay
    /// window (checked after authentication, so forged packets cannot move the window).
    /// </summary>
    public bool Open(ulong counter, Span<byte> data, ReadOnlySpan<byte> tag)
    {
        Span<byte> nonce = stackalloc byte[12];
        NoiseCrypto.WriteNonce(nonce, counter);
        lock (_receiveLock)
        {
            if (_disposed || !_replay.MightAccept(counter, WireGuardLimits.RejectAfterMessages)) return false;
            if (!_receive.Open(nonce, data, tag)) return false;
            return _replay.TryAccept(counter, WireGuardLimits.RejectAfterMessages);
        }
    }

    /// <summary>Test hook: moves the send counter (to reach the message limits without 2^60 packets).</summary>
    internal void SetNextSendCounter(ulong counter) => Volatile.Write(ref _nextSendCounter, counter);

    public void Dispose()
    {
        lock (_sendLock)
        {
            lock (_receiveLock)
            {
                if (_disposed) return;
                Volatile.Write(ref _disposed, true);
                _send.Dispose();
                _receive.Dispose();
            }
        }
    }
}
