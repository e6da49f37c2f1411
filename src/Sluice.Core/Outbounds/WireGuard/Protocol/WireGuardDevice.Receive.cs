using System.Buffers.Binary;
using System.Net;
using static Sluice.Core.Outbounds.WireGuard.WireGuardMessages;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// The receive side. Handshake messages pass, in order: exact length → mac1 (cheap, proves the sender
/// knows our public key) → under load: mac2 (else a cookie reply) and the per-source rate limit → the
/// Noise computation. Only a packet that authenticated moves a peer's endpoint (roaming).
/// </summary>
public sealed partial class WireGuardDevice
{
    private volatile bool _underLoadSet;
    private long _underLoadUntil;
    private long _loadWindow;
    private int _loadCount;

    /// <summary>
    /// Handles the datagram at buffer[offset..offset+length] in place: data → WriteTun (the decrypted IP
    /// packet; a keepalive → None); an initiation → SendDatagram (our response, written over it); a response →
    /// SendDatagram (a keepalive confirming the session); under load → a cookie reply; anything else → Dropped.
    /// Never throws on any input.
    /// </summary>
    public WgResult Decapsulate(Span<byte> buffer, int offset, int length, IPEndPoint from) => Decapsulate(buffer, offset, length, from, Now());

    /// <summary><see cref="Decapsulate(Span{byte}, int, int, IPEndPoint)"/> at <paramref name="now"/> (<see cref="TimeOf"/> of a timestamp the caller read).</summary>
    public WgResult Decapsulate(Span<byte> buffer, int offset, int length, IPEndPoint from, long now)
    {
        ArgumentNullException.ThrowIfNull(from);
        if ((uint)offset > (uint)buffer.Length || (uint)length > (uint)(buffer.Length - offset))
            throw new ArgumentOutOfRangeException(nameof(length), $"datagram [{offset}, {offset}+{length}) is outside the {buffer.Length}-byte buffer");
        var message = buffer.Slice(offset, length);
        return TypeOf(message) switch
        {
            TransportType when length >= TransportMinSize => ReceiveTransport(message, offset, from, now),
            InitiationType when length == InitiationSize => ReceiveInitiation(message, offset, from),
            ResponseType when length == ResponseSize => ReceiveResponse(message, offset, from),
            CookieReplyType when length == CookieReplySize => ReceiveCookieReply(message, from),
            _ => WgResult.Drop(new DropNote(DropKind.NotWireGuard, from, length, TypeOf(message))),
        };
    }

    private WgResult ReceiveTransport(Span<byte> message, int offset, IPEndPoint from, long now)
    {
        uint receiver = ReadIndex(message, TransportReceiver);
        if (!_indices.TryGetValue(receiver, out var owner) || owner is not Keypair keypair)
            return WgResult.Drop(new DropNote(DropKind.NoSession, from));
        var peer = keypair.Peer;
        if (!keypair.CanReceive(now))
            return WgResult.Drop($"data packet from {peer.Describe(from)} uses an expired session", peer);

        ulong counter = BinaryPrimitives.ReadUInt64LittleEndian(message[TransportCounter..]);
        int dataLength = message.Length - TransportMinSize;
        var data = message.Slice(TransportHeaderSize, dataLength);
        if (!keypair.Open(counter, data, message.Slice(TransportHeaderSize + dataLength, TagSize)))
            return WgResult.Drop(new DropNote(DropKind.FailedAuthentication, from, (long)counter), peer);

        if (ReferenceEquals(peer.Next, keypair))
        {
            bool confirmed;
            lock (peer.Sync) confirmed = peer.ConfirmNextLocked(keypair, WallClock());
            if (confirmed) RaiseHandshakeCompleted(peer);
        }
        peer.UpdateEndpoint(from);
        peer.OnAuthenticatedReceived(now);
        peer.AddRx(message.Length);
        peer.KeepKeyFreshReceiving(now);
        if (dataLength == 0) return WgResult.Nothing; // keepalive

        if (!TryReadInnerPacket(data, out int packetLength, out bool isV4, out var source))
            return WgResult.Drop($"decrypted packet from {peer.Name} is not a whole IPv4/IPv6 packet", peer);
        // Cryptokey routing, incoming half: the inner source must be one this peer may use.
        if (_routes.Longest(isV4, source) != peer.Index)
            return WgResult.Drop($"packet from {peer.Name} has source {FormatAddress(isV4, source)}, outside its allowed IPs", peer);
        peer.OnDataReceived(now);
        return WgResult.Tun(offset + TransportHeaderSize, packetLength, peer);
    }

    private WgResult ReceiveInitiation(Span<byte> message, int offset, IPEndPoint from)
    {
        if (!_cookies.CheckMac1(message, InitiationMac1))
            return WgResult.Drop(new DropNote(DropKind.InitiationBadMac1, from));
        long now = Now();
        CountHandshake(now);
        if (UnderLoad && CheckLoad(message, offset, InitiationMac1, ReadIndex(message, InitiationSender), from, now) is { } loaded)
            return loaded;

        Span<byte> hash = stackalloc byte[NoiseCrypto.HashSize];
        Span<byte> chainKey = stackalloc byte[NoiseCrypto.HashSize];
        Span<byte> peerStatic = stackalloc byte[NoiseCrypto.KeySize];
        if (!NoiseHandshake.TryOpenInitiation(message, Identity, hash, chainKey, peerStatic))
            return WgResult.Drop($"handshake from {from} failed: initiation does not decrypt with our key (wrong peer public key?)");
        var peer = FindPeer(peerStatic);
        if (peer is null)
            return WgResult.Drop($"handshake from {from} failed: public key {Convert.ToBase64String(peerStatic)} is not one of our peers");

        lock (peer.Sync)
        {
            var verdict = peer.Handshake.ConsumeInitiation(message, hash, chainKey, now);
            switch (verdict)
            {
                case InitiationVerdict.TimestampDoesNotDecrypt:
                    return WgResult.Drop($"handshake from {peer.Describe(from)} failed: timestamp does not decrypt (the sender does not hold this peer's private key)", peer);
                case InitiationVerdict.Replayed:
                    return WgResult.Drop($"handshake from {peer.Describe(from)} rejected: replayed initiation (timestamp not newer than the last one)", peer);
                case InitiationVerdict.Flood:
                    return WgResult.Drop($"handshake from {peer.Describe(from)} rejected: initiations less than 20 ms apart", peer);
            }

            var response = message[..ResponseSize];
            if (!peer.Handshake.WriteResponse(response, ReplaceHandshakeIndex(peer)))
                return WgResult.Drop($"handshake from {peer.Describe(from)} failed: zero DH result (low-order ephemeral key)", peer);
            peer.Cookies.AddMacs(response, ResponseMac1, now);
            peer.Handshake.LastSentAt = now;
            peer.BeginSessionLocked(initiator: false, now);
            peer.UpdateEndpoint(from);
            peer.OnAuthenticatedReceived(now);
            peer.OnAuthenticatedSent(now);
            peer.AddRx(InitiationSize);
            peer.AddTx(ResponseSize);
            return WgResult.Send(offset, ResponseSize, peer);
        }
    }

    private WgResult ReceiveResponse(Span<byte> message, int offset, IPEndPoint from)
    {
        if (!_cookies.CheckMac1(message, ResponseMac1))
            return WgResult.Drop(new DropNote(DropKind.ResponseBadMac1, from));
        long now = Now();
        CountHandshake(now);
        if (UnderLoad && CheckLoad(message, offset, ResponseMac1, ReadIndex(message, ResponseSender), from, now) is { } loaded)
            return loaded;

        if (!_indices.TryGetValue(ReadIndex(message, ResponseReceiver), out var owner) || owner is not WireGuardPeer peer)
            return WgResult.Drop($"handshake response from {from} answers no initiation of ours (stale or not for us)");

        lock (peer.Sync)
        {
            if (!peer.Handshake.ConsumeResponse(message, Identity))
                return WgResult.Drop($"handshake response from {peer.Describe(from)} failed: it does not decrypt (preshared key mismatch?)", peer);
            peer.BeginSessionLocked(initiator: true, now);
            peer.HandshakeCompletedLocked(WallClock());
            peer.UpdateEndpoint(from);
            peer.OnAuthenticatedReceived(now);
            peer.AddRx(ResponseSize);
            // Confirm the session to the responder at once (it only sends on it after our first packet).
            bool keepalive = peer.TryWriteKeepalive(message, now, out int length);
            RaiseHandshakeCompleted(peer);
            return keepalive ? WgResult.Send(offset, length, peer) : WgResult.Nothing;
        }
    }

    private WgResult ReceiveCookieReply(Span<byte> message, IPEndPoint from)
    {
        _indices.TryGetValue(ReadIndex(message, CookieReplyReceiver), out var owner);
        var peer = owner as WireGuardPeer ?? (owner as Keypair)?.Peer;
        if (peer is null)
            return WgResult.Drop(new DropNote(DropKind.CookieReplyForNothing, from));
        long now = Now();
        lock (peer.Sync)
        {
            if (!peer.Cookies.ConsumeReply(message, now))
                return WgResult.Drop($"cookie reply from {peer.Describe(from)} does not authenticate against our last handshake message", peer);
        }
        return WgResult.Nothing; // the next retransmit carries mac2
    }

    /// <summary>Under load: a message without a valid mac2 gets a cookie reply; one with it still passes the per-source rate limit.</summary>
    private WgResult? CheckLoad(Span<byte> message, int offset, int mac1Offset, uint senderIndex, IPEndPoint from, long now)
    {
        if (!_cookies.CheckMac2(message, mac1Offset + NoiseCrypto.MacSize, from, now))
        {
            _cookies.WriteReply(message[..CookieReplySize], message, mac1Offset, senderIndex, from, now);
            return WgResult.SendTo(offset, CookieReplySize, from);
        }
        if (!_rateLimiter.Allow(from.Address, now))
            return WgResult.Drop(new DropNote(DropKind.RateLimited, from));
        return null;
    }

    /// <summary>Counts handshake messages per second; past the threshold the device is under load for a second.</summary>
    private void CountHandshake(long now)
    {
        long window = now / TimeSpan.TicksPerSecond;
        if (Interlocked.Exchange(ref _loadWindow, window) != window) Interlocked.Exchange(ref _loadCount, 0);
        if (Interlocked.Increment(ref _loadCount) > WireGuardLimits.UnderLoadHandshakesPerSecond)
            Volatile.Write(ref _underLoadUntil, now + TimeSpan.TicksPerSecond);
    }

    /// <summary>A decrypted packet: its real length (padding stripped) and source; false if the header lies.</summary>
    private static bool TryReadInnerPacket(ReadOnlySpan<byte> data, out int length, out bool isV4, out UInt128 source)
    {
        length = 0;
        if (!TryReadAddress(data, source: true, out isV4, out source)) return false;
        length = isV4
            ? BinaryPrimitives.ReadUInt16BigEndian(data[2..])
            : 40 + BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        return length >= (isV4 ? 20 : 40) && length <= data.Length;
    }
}
