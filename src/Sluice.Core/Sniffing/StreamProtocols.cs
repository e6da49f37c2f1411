using System.Buffers.Binary;

namespace Sluice.Core.Sniffing;

/// <summary>
/// Client-first TCP protocols recognised by their opening bytes (no domain in any of them):
/// 1. bittorrent: the peer-wire handshake, byte 19 then "BitTorrent protocol" (BEP 3);
/// 2. ssh: the identification string "SSH-2.0-…" or "SSH-1.99-…" (RFC 4253 §4.2);
/// 3. rdp: a TPKT header (version 3) carrying an X.224 Connection Request TPDU (0xE0) (RFC 1006, T.125,
///    MS-RDPBCGR 2.2.1.1), as mstsc, FreeRDP and xfreerdp open.
/// Every check reads only inside the span; a prefix of a signature asks for more bytes.
/// </summary>
internal static class StreamProtocols
{
    private static ReadOnlySpan<byte> BitTorrent => "\u0013BitTorrent protocol"u8;
    private static ReadOnlySpan<byte> Ssh => "SSH-"u8;
    private static ReadOnlySpan<byte> Ssh2 => "2.0-"u8;
    private static ReadOnlySpan<byte> Ssh199 => "1.99-"u8;

    public static SniffResult SniffBitTorrent(ReadOnlySpan<byte> data) => Prefix(data, BitTorrent, "bittorrent");

    public static SniffResult SniffSsh(ReadOnlySpan<byte> data)
    {
        var head = Prefix(data, Ssh, "ssh");
        if (head.Status != SniffStatus.Found) return head;
        var rest = data[Ssh.Length..];
        var v2 = Prefix(rest, Ssh2, "ssh");
        if (v2.Status != SniffStatus.NotMatched) return v2;
        return Prefix(rest, Ssh199, "ssh");
    }

    /// <summary>TPKT(4) + X.224 CR: length indicator, code 0xE0, DST-REF 0, SRC-REF, class 0.</summary>
    public static SniffResult SniffRdp(ReadOnlySpan<byte> data)
    {
        if (data[0] != 3) return SniffResult.NotMatched;
        if (data.Length < 11) return data.Length < 2 || data[1] == 0 ? SniffResult.NeedMore : SniffResult.NotMatched;
        int tpktLength = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        int li = data[4];
        // The X.224 header fills the TPKT packet: LI counts the bytes after itself.
        if (data[1] != 0 || tpktLength is < 11 or > 0x4000 || li != tpktLength - 5) return SniffResult.NotMatched;
        if ((data[5] & 0xF0) != 0xE0 || data[6] != 0 || data[7] != 0 || (data[10] & 0xF0) != 0) return SniffResult.NotMatched;
        return new SniffResult(SniffStatus.Found, "rdp", null);
    }

    private static SniffResult Prefix(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature, string protocol)
    {
        int n = Math.Min(data.Length, signature.Length);
        if (!data[..n].SequenceEqual(signature[..n])) return SniffResult.NotMatched;
        return n < signature.Length ? SniffResult.NeedMore : new SniffResult(SniffStatus.Found, protocol, null);
    }
}
