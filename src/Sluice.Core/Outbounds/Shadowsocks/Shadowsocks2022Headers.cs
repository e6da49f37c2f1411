using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// The SIP022 TCP headers (§3.1.3), as pure functions over spans:
/// 1. request: fixed header [type 0][u64be unix seconds][u16be variable length], sealed; then the
///    variable header [SOCKS address][u16be padding length][padding][initial payload], sealed;
/// 2. response: one fixed header [type 1][u64be unix seconds][request salt][u16be first chunk length],
///    sealed, followed by that payload chunk.
/// A message more than 30 s away from the local clock is a replay (§3.1.3); a response whose request
/// salt is not ours is one too (it answers another connection), which is why a client keeps no salt pool
/// (§3.1.4).
/// </summary>
internal static class Shadowsocks2022Headers
{
    public const byte ClientStream = 0;
    public const byte ServerStream = 1;
    public const int RequestFixedLength = 1 + 8 + 2;
    public const int MaxPadding = 900;
    public static readonly TimeSpan MaxSkew = TimeSpan.FromSeconds(30);

    public static int ResponseFixedLength(int saltSize) => 1 + 8 + saltSize + 2;

    /// <summary>
    /// Seals the two request header chunks with <paramref name="encoder"/> into <paramref name="output"/>;
    /// returns the bytes written. Either padding or initial payload must be present (§3.1.3): with no
    /// payload, the padding is 1..900 random bytes.
    /// </summary>
    public static int SealRequest(AeadCipher encoder, ReadOnlySpan<byte> address, ReadOnlySpan<byte> initialPayload, long unixSeconds, Span<byte> output)
    {
        int padding = initialPayload.IsEmpty ? RandomNumberGenerator.GetInt32(1, MaxPadding + 1) : 0;
        int variableLength = address.Length + 2 + padding + initialPayload.Length;
        Span<byte> fixedHeader = stackalloc byte[RequestFixedLength];
        fixedHeader[0] = ClientStream;
        BinaryPrimitives.WriteUInt64BigEndian(fixedHeader[1..], (ulong)unixSeconds);
        BinaryPrimitives.WriteUInt16BigEndian(fixedHeader[9..], (ushort)variableLength);
        encoder.Seal(fixedHeader, output);
        int at = RequestFixedLength + ShadowsocksMethod.TagSize;
        // The variable header is built in place, then sealed over itself (AEAD allows in-place).
        var variable = output.Slice(at, variableLength);
        address.CopyTo(variable);
        BinaryPrimitives.WriteUInt16BigEndian(variable[address.Length..], (ushort)padding);
        RandomNumberGenerator.Fill(variable.Slice(address.Length + 2, padding));
        initialPayload.CopyTo(variable[(address.Length + 2 + padding)..]);
        encoder.Seal(variable, output[at..]);
        return at + variableLength + ShadowsocksMethod.TagSize;
    }

    /// <summary>
    /// Checks a decrypted response fixed header; null when it is valid (then <paramref name="firstChunkLength"/>
    /// is the length of the payload chunk that follows), else the reason for the log.
    /// </summary>
    public static string? CheckResponse(ReadOnlySpan<byte> header, ReadOnlySpan<byte> requestSalt, long nowUnixSeconds, out int firstChunkLength)
    {
        firstChunkLength = 0;
        if (header.Length != ResponseFixedLength(requestSalt.Length)) return "the response header has the wrong length";
        if (header[0] != ServerStream) return $"the response header has type {header[0]}, not a server stream (1): a reflected or forged stream";
        string? skew = CheckTimestamp(BinaryPrimitives.ReadUInt64BigEndian(header[1..]), nowUnixSeconds);
        if (skew is not null) return skew;
        if (!CryptographicOperations.FixedTimeEquals(header.Slice(9, requestSalt.Length), requestSalt))
            return "the response answers another request (its request salt is not ours): a replayed response";
        firstChunkLength = BinaryPrimitives.ReadUInt16BigEndian(header[(9 + requestSalt.Length)..]);
        return null;
    }

    /// <summary>Null when the message time is within 30 s of ours, else the reason (SIP022: treat as replay).</summary>
    public static string? CheckTimestamp(ulong messageUnixSeconds, long nowUnixSeconds)
    {
        if (messageUnixSeconds > long.MaxValue / 2) return "the server's timestamp is far in the future (a forged header)";
        long skew = (long)messageUnixSeconds - nowUnixSeconds;
        return Math.Abs(skew) > MaxSkew.TotalSeconds
            ? $"the server's timestamp is {skew} s from this host's clock (at most ±30 s; a replay, or one of the clocks is wrong)"
            : null;
    }
}
