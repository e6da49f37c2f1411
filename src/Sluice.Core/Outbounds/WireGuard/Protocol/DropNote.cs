using System.Globalization;
using System.Net;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>Drops anyone can cause by sending datagrams to the port: described lazily (<see cref="DropNote"/>).</summary>
internal enum DropKind : byte
{
    None,
    NotWireGuard,
    NoSession,
    FailedAuthentication,
    InitiationBadMac1,
    ResponseBadMac1,
    CookieReplyForNothing,
    RateLimited,
}

/// <summary>
/// Why a datagram anyone can send was dropped, kept as its kind and values and put into words only when read
/// (<see cref="WgResult.Reason"/>): a junk flood on the WireGuard port costs no string per datagram, and the log's
/// per-category limit decides by <see cref="Category"/> before anything is formatted.
/// </summary>
internal readonly record struct DropNote(DropKind Kind, IPEndPoint? From, long A = 0, long B = 0)
{
    /// <summary>The log limiter's category: one per kind, whatever the sender or values.</summary>
    public string? Category => Kind == DropKind.None ? null : Categories[(int)Kind];

    private static readonly string[] Categories = Enum.GetNames<DropKind>().Select(n => "drop:" + n).ToArray();

    public string? Format(WireGuardPeer? peer) => Kind switch
    {
        DropKind.None => null,
        DropKind.NotWireGuard => string.Create(CultureInfo.InvariantCulture, $"datagram from {From} is not a WireGuard message ({A} bytes, type word {B})"),
        DropKind.NoSession => $"data packet from {From} names no session of ours (stale after a restart, or not for us)",
        DropKind.FailedAuthentication => string.Create(CultureInfo.InvariantCulture,
            $"data packet from {peer?.Describe(From) ?? From?.ToString()} failed authentication or is a replay (counter {(ulong)A})"),
        DropKind.InitiationBadMac1 => $"handshake from {From} failed: initiation is not made for our public key (bad mac1; wrong peer public key?)",
        DropKind.ResponseBadMac1 => $"handshake response from {From} failed: not made for our public key (bad mac1; wrong peer public key?)",
        DropKind.CookieReplyForNothing => $"cookie reply from {From} answers no message of ours",
        DropKind.RateLimited => $"handshake from {From} rate-limited (device under load)",
        _ => Kind.ToString(),
    };
}
