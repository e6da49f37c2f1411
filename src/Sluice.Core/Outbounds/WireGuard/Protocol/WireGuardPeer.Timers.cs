namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// The timers of whitepaper §6 as deadlines that <see cref="WireGuardDevice.Tick"/> checks, with
/// wireguard-go's (timers.go) semantics:
/// 1. retransmit: an initiation unanswered for REKEY_TIMEOUT + jitter is resent; after
///    MAX_TIMER_HANDSHAKES retries (REKEY_ATTEMPT_TIME) the attempt is given up and the queue dropped;
/// 2. new handshake: data sent and nothing authenticated heard back for KEEPALIVE + REKEY_TIMEOUT;
/// 3. keepalive: data received and nothing sent for KEEPALIVE_TIMEOUT;
/// 4. persistent keepalive: nothing sent or received for the configured interval;
/// 5. zero keys: no new session for 3 × REJECT_AFTER_TIME;
/// 6. rekey: requested by the data path (REKEY_AFTER_TIME / REKEY_AFTER_MESSAGES on send as
///    initiator, REJECT_AFTER_TIME − KEEPALIVE − REKEY_TIMEOUT on receive as initiator).
/// The data path arms and disarms timers with single atomic writes, never a lock.
/// </summary>
public sealed partial class WireGuardPeer
{
    // Guarded by Sync.
    private long _retransmitAt;
    private int _handshakeAttempts;
    private long _zeroKeysAt;

    // Written by the data path without a lock (0 = not armed).
    private long _newHandshakeAt;
    private long _keepaliveAt;
    private long _lastTraversal;
    private volatile bool _rekeyRequested;
    private volatile bool _forceHandshake;
    private volatile bool _sentLastMinuteHandshake;

    internal bool RetransmitPending => Volatile.Read(ref _retransmitAt) != None;

    internal void RequestForcedHandshake() => _forceHandshake = true;

    private long Armed(long due)
    {
        _device.NoteTimerArmed(due);
        return due;
    }

    /// <summary>Any authenticated packet sent (data, keepalive, handshake): no passive keepalive is owed.</summary>
    internal void OnAuthenticatedSent(long now)
    {
        if (Volatile.Read(ref _keepaliveAt) != None) Volatile.Write(ref _keepaliveAt, None);
        Volatile.Write(ref _lastTraversal, now);
    }

    /// <summary>Any authenticated packet received: the peer is alive, no "stopped hearing back" handshake.</summary>
    internal void OnAuthenticatedReceived(long now)
    {
        if (Volatile.Read(ref _newHandshakeAt) != None) Volatile.Write(ref _newHandshakeAt, None);
        Volatile.Write(ref _lastTraversal, now);
    }

    internal void OnDataSent(long now)
    {
        if (Volatile.Read(ref _newHandshakeAt) != None) return;
        long due = now + WireGuardLimits.KeepaliveTimeout + WireGuardLimits.RekeyTimeout + Jitter();
        if (Interlocked.CompareExchange(ref _newHandshakeAt, due, None) == None) Armed(due);
    }

    internal void OnDataReceived(long now)
    {
        if (Volatile.Read(ref _keepaliveAt) != None) return;
        long due = now + WireGuardLimits.KeepaliveTimeout;
        if (Interlocked.CompareExchange(ref _keepaliveAt, due, None) == None) Armed(due);
    }

    /// <summary>After sending with <paramref name="keypair"/>: rekey when it is old (as initiator) or has sent REKEY_AFTER_MESSAGES.</summary>
    internal void KeepKeyFreshSending(Keypair keypair, ulong counter, long now)
    {
        if ((counter > WireGuardLimits.RekeyAfterMessages || (keypair.IsInitiator && now - keypair.CreatedAt > WireGuardLimits.RekeyAfterTime))
            && !_rekeyRequested)
        {
            _rekeyRequested = true;
            Armed(now);
        }
    }

    /// <summary>After receiving: an initiator whose session nears REJECT_AFTER_TIME rekeys once, so the peer never waits on a dead key.</summary>
    internal void KeepKeyFreshReceiving(long now)
    {
        var current = Current;
        if (current is null || !current.IsInitiator || _sentLastMinuteHandshake) return;
        if (now - current.CreatedAt > WireGuardLimits.RekeyOnReceiveAge)
        {
            _sentLastMinuteHandshake = true;
            _rekeyRequested = true;
            Armed(now);
        }
    }

    /// <summary>A session that may send now, or null.</summary>
    internal Keypair? SendableKeypair(long now)
    {
        var current = Current;
        return current is not null && current.CanSend(now) && Endpoint is not null ? current : null;
    }

    /// <summary>
    /// Writes an initiation into <paramref name="destination"/> unless one went out less than REKEY_TIMEOUT
    /// ago (<paramref name="force"/> skips that check), there is no endpoint, or the buffer is too small.
    /// Caller holds <see cref="Sync"/>.
    /// </summary>
    internal bool TryInitiateLocked(Span<byte> destination, long now, bool isRetry, bool force, out int length)
    {
        length = 0;
        if (!isRetry) _handshakeAttempts = 0;
        if (Endpoint is null || destination.Length < WireGuardMessages.InitiationSize) return false;
        long lastSent = Handshake.LastSentAt;
        if (!force && lastSent != NoiseHandshake.Never && now - lastSent < WireGuardLimits.RekeyTimeout) return false;

        var message = destination[..WireGuardMessages.InitiationSize];
        uint index = _device.ReplaceHandshakeIndex(this);
        Handshake.WriteInitiation(message, _device.Identity, index, _device.WallClock());
        Cookies.AddMacs(message, WireGuardMessages.InitiationMac1, now);
        Handshake.LastSentAt = now;
        _retransmitAt = Armed(now + WireGuardLimits.RekeyTimeout + Jitter());
        OnAuthenticatedSent(now);
        AddTx(message.Length);
        length = message.Length;
        return true;
    }

    /// <summary>Writes a keepalive (an empty transport message, 32 bytes) if a session can send.</summary>
    internal bool TryWriteKeepalive(Span<byte> destination, long now, out int length)
    {
        length = 0;
        var keypair = SendableKeypair(now);
        if (keypair is null || destination.Length < WireGuardMessages.KeepaliveSize || !keypair.TryReserveCounter(out ulong counter)) return false;
        length = WireGuardDevice.SealTransport(keypair, counter, destination, WireGuardMessages.TransportHeaderSize, 0);
        if (length == 0) return false;
        OnAuthenticatedSent(now);
        AddTx(length);
        return true;
    }

    /// <summary>
    /// When <see cref="TickLocked"/> next has something to do: the earliest armed timer, <paramref name="now"/>
    /// for a request waiting on the next tick, <see cref="None"/> when nothing is armed. Caller holds <see cref="Sync"/>.
    /// </summary>
    internal long NextDueLocked(long now)
    {
        if (_forceHandshake || _rekeyRequested) return now;
        if (_queue.Count > 0 && _retransmitAt == None && Endpoint is not null && SendableKeypair(now) is null) return now;
        long due = Earliest(_zeroKeysAt, _retransmitAt);
        due = Earliest(due, Volatile.Read(ref _newHandshakeAt));
        due = Earliest(due, Volatile.Read(ref _keepaliveAt));
        if (PersistentKeepalive > 0)
        {
            long last = Volatile.Read(ref _lastTraversal);
            due = Earliest(due, last == None ? now : last + PersistentKeepalive);
        }
        return due;
    }

    private static long Earliest(long a, long b) => a == None ? b : b == None ? a : Math.Min(a, b);

    /// <summary>The first timer action due for this peer, or None. Each action changes the state, so looping ends. Caller holds <see cref="Sync"/>.</summary>
    internal WgResult TickLocked(Span<byte> buffer, long now)
    {
        if (_zeroKeysAt != None && now >= _zeroKeysAt)
            ZeroKeysLocked();

        if (_retransmitAt != None && now >= _retransmitAt)
        {
            if (_handshakeAttempts > WireGuardLimits.MaxTimerHandshakes)
            {
                _retransmitAt = None;
                Volatile.Write(ref _keepaliveAt, None);
                int dropped = FlushQueueLocked();
                if (_zeroKeysAt == None) _zeroKeysAt = now + 3 * WireGuardLimits.RejectAfterTime;
                return WgResult.Drop(
                    $"handshake with {Describe()} did not complete after {_handshakeAttempts + 1} attempts; gave up and dropped {dropped} queued packets", this);
            }
            _handshakeAttempts++;
            if (TryInitiateLocked(buffer, now, isRetry: true, force: false, out int length)) return Sent(length);
            if (Endpoint is null) _retransmitAt = None;
            else _retransmitAt = now + WireGuardLimits.RekeyTimeout + Jitter();
        }

        if (_forceHandshake)
        {
            if (Endpoint is null) _forceHandshake = false;
            else if (TryInitiateLocked(buffer, now, isRetry: false, force: true, out int length))
            {
                _forceHandshake = false;
                return Sent(length);
            }
        }

        if (_rekeyRequested)
        {
            _rekeyRequested = false;
            if (TryInitiateLocked(buffer, now, isRetry: false, force: false, out int length)) return Sent(length);
        }

        long newHandshakeAt = Volatile.Read(ref _newHandshakeAt);
        if (newHandshakeAt != None && now >= newHandshakeAt)
        {
            Volatile.Write(ref _newHandshakeAt, None);
            if (TryInitiateLocked(buffer, now, isRetry: false, force: false, out int length)) return Sent(length);
        }

        var sendable = SendableKeypair(now);
        if (_queue.Count > 0 && sendable is null && _retransmitAt == None
            && TryInitiateLocked(buffer, now, isRetry: false, force: false, out int queuedLength))
            return Sent(queuedLength);

        long keepaliveAt = Volatile.Read(ref _keepaliveAt);
        if (keepaliveAt != None && now >= keepaliveAt)
        {
            Volatile.Write(ref _keepaliveAt, None);
            if (TryWriteKeepalive(buffer, now, out int length)) return Sent(length);
        }

        if (PersistentKeepalive > 0)
        {
            long last = Volatile.Read(ref _lastTraversal);
            if (last == None || now - last >= PersistentKeepalive)
            {
                if (TryWriteKeepalive(buffer, now, out int length)) return Sent(length);
                Volatile.Write(ref _lastTraversal, now); // no session: start one, and wait a full interval before asking again
                if (_retransmitAt == None && TryInitiateLocked(buffer, now, isRetry: false, force: false, out length)) return Sent(length);
            }
        }
        return WgResult.Nothing;

        WgResult Sent(int length) => WgResult.Send(0, length, this);
    }

    private static long Jitter() => Random.Shared.Next(WireGuardLimits.RekeyTimeoutJitterMaxMs) * TimeSpan.TicksPerMillisecond;
}
