using System.Net;
using Sluice.Core.Tun;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// One [Peer] section. <paramref name="Endpoint"/> may be null for a peer that only connects to us;
/// <paramref name="PersistentKeepalive"/> null or zero disables it (default off: it costs a packet per interval).
/// </summary>
public sealed record WireGuardPeerConfig(
    byte[] PublicKey,
    byte[]? PresharedKey,
    IPEndPoint? Endpoint,
    IReadOnlyList<IpPrefix> AllowedIps,
    TimeSpan? PersistentKeepalive,
    string Name)
{
    /// <summary>
    /// The three bytes after the message type on every datagram sent to this peer (sing-box's "reserved", which
    /// Cloudflare WARP reads as the client id); null = zeros, as the protocol has them.
    /// </summary>
    public byte[]? Reserved { get; init; }
}

public enum WgResultKind
{
    /// <summary>Nothing to do.</summary>
    None,

    /// <summary>Send buffer[Offset..Offset+Length] as one UDP datagram to Peer.Endpoint.</summary>
    SendDatagram,

    /// <summary>Write the decrypted IP packet buffer[Offset..Offset+Length] to the TUN.</summary>
    WriteTun,

    /// <summary>The input was dropped; Reason says why (for a debug log line).</summary>
    Dropped,
}

/// <summary>What the caller does next; Offset/Length index into the buffer it passed.</summary>
public readonly record struct WgResult(WgResultKind Kind, int Offset, int Length, WireGuardPeer? Peer, string? Text)
{
    /// <summary>A drop anyone can cause, put into words only when <see cref="Reason"/> is read.</summary>
    internal DropNote Note { get; init; }

    /// <summary>For Dropped: why (formatted when read).</summary>
    public string? Reason => Text ?? Note.Format(Peer);

    /// <summary>For the log's per-category limit: the note's kind, or null (then the category is taken from the text).</summary>
    internal string? NoteCategory => Note.Category;

    internal static readonly WgResult Nothing = default;

    /// <summary>
    /// For SendDatagram: where to send it. This is Peer.Endpoint when the datagram was made, or the sender's
    /// address for a cookie reply (Peer is null then: the sender is not authenticated yet).
    /// </summary>
    public System.Net.IPEndPoint? Destination { get; init; }

    internal static WgResult Send(int offset, int length, WireGuardPeer peer) =>
        new(WgResultKind.SendDatagram, offset, length, peer, null) { Destination = peer.Endpoint };

    internal static WgResult SendTo(int offset, int length, System.Net.IPEndPoint destination) =>
        new(WgResultKind.SendDatagram, offset, length, null, null) { Destination = destination };

    internal static WgResult Tun(int offset, int length, WireGuardPeer peer) => new(WgResultKind.WriteTun, offset, length, peer, null);

    internal static WgResult Drop(string reason, WireGuardPeer? peer = null) => new(WgResultKind.Dropped, 0, 0, peer, reason);

    internal static WgResult Drop(DropNote note, WireGuardPeer? peer = null) => new(WgResultKind.Dropped, 0, 0, peer, null) { Note = note };
}

/// <summary>Protocol constants of the whitepaper §6.1 and wireguard-go's constants.go.</summary>
internal static class WireGuardLimits
{
    public static readonly long RekeyAfterTime = TimeSpan.FromSeconds(120).Ticks;
    public static readonly long RejectAfterTime = TimeSpan.FromSeconds(180).Ticks;
    public static readonly long RekeyAttemptTime = TimeSpan.FromSeconds(90).Ticks;
    public static readonly long RekeyTimeout = TimeSpan.FromSeconds(5).Ticks;
    public static readonly long KeepaliveTimeout = TimeSpan.FromSeconds(10).Ticks;
    public static readonly long CookieRefreshTime = TimeSpan.FromSeconds(120).Ticks;

    /// <summary>A responder ignores a peer's initiations that come faster than this (wireguard-go's flood check).</summary>
    public static readonly long HandshakeInitiationRate = TimeSpan.FromMilliseconds(20).Ticks;

    /// <summary>The initiator, on receiving, rekeys once this old so the new session is ready before REJECT_AFTER_TIME.</summary>
    public static readonly long RekeyOnReceiveAge = RejectAfterTime - KeepaliveTimeout - RekeyTimeout;

    /// <summary>Retransmits are jittered by up to this (exclusive), so two peers do not retry in lockstep.</summary>
    public const int RekeyTimeoutJitterMaxMs = 334;

    /// <summary>REKEY_ATTEMPT_TIME / REKEY_TIMEOUT: after this many retries the handshake is given up.</summary>
    public const int MaxTimerHandshakes = 90 / 5;

    public const ulong RekeyAfterMessages = 1UL << 60;

    /// <summary>2^64 − 2^13 − 1: the replay window must never see the counter wrap.</summary>
    public const ulong RejectAfterMessages = ulong.MaxValue - (1UL << 13);

    /// <summary>Packets queued per peer while it has no session (oldest dropped beyond).</summary>
    public const int MaxQueuedPackets = 1024;

    /// <summary>Handshake messages per second above which the device counts as under load.</summary>
    public const int UnderLoadHandshakesPerSecond = 128;

    public const int PaddingMultiple = 16;
}
