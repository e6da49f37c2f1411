using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sluice.Core.Sniffing;

/// <summary>
/// The server name of a QUIC client Initial packet (HTTP/3), v1 (RFC 9000/9001) and v2 (RFC 9369):
/// 1. long header: form and fixed bits set, type Initial (v1 0b00, v2 0b01), DCID ≤ 20 bytes, token, length;
/// 2. Initial keys from the DCID: HKDF-Extract(version salt, DCID) → "client in" → key, iv, hp (RFC 9001 §5.2;
///    v2 labels "quicv2 …", RFC 9369 §3.3.2);
/// 3. header protection removed with AES-ECB over the 16-byte sample (§5.4), the payload opened with AES-128-GCM;
/// 4. CRYPTO frames (PADDING, PING and ACK skipped) joined by offset into the ClientHello, whose server_name
///    the TLS parser reads. A ClientHello that continues in a later datagram gives "quic" without a name.
/// Only the first packet of the datagram is read (a client's first datagram starts with its Initial).
/// </summary>
internal static class QuicInitial
{
    private const uint Version1 = 0x00000001;
    private const uint Version2 = 0x6b3343cf;
    private const int MaxDatagram = 1 << 16;
    private const int MaxCrypto = 1 << 14;

    private static ReadOnlySpan<byte> SaltV1 => [0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a];

    private static ReadOnlySpan<byte> SaltV2 => [0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9];

    /// <summary>NotMatched unless this is a client Initial of a known version; then Found, with the name when readable.</summary>
    public static SniffResult Sniff(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < 7 || datagram.Length > MaxDatagram || (datagram[0] & 0xC0) != 0xC0) return SniffResult.NotMatched;
        uint version = BinaryPrimitives.ReadUInt32BigEndian(datagram[1..]);
        int type = (datagram[0] >> 4) & 3;
        if (!(version == Version1 && type == 0) && !(version == Version2 && type == 1)) return SniffResult.NotMatched;
        int offset = 5;
        int dcidLength = datagram[offset++];
        if (dcidLength > 20 || datagram.Length < offset + dcidLength + 1) return SniffResult.NotMatched;
        var dcid = datagram.Slice(offset, dcidLength);
        offset += dcidLength;
        int scidLength = datagram[offset++];
        if (scidLength > 20 || datagram.Length < offset + scidLength) return SniffResult.NotMatched;
        offset += scidLength;
        if (!TryVarint(datagram, ref offset, out ulong tokenLength) || tokenLength > (ulong)(datagram.Length - offset)) return SniffResult.NotMatched;
        offset += (int)tokenLength;
        if (!TryVarint(datagram, ref offset, out ulong length) || length < 20 || length > (ulong)(datagram.Length - offset)) return SniffResult.NotMatched;
        // From here it is a QUIC Initial: whatever fails below still names the protocol.
        var found = new SniffResult(SniffStatus.Found, "quic", null);
        int pnOffset = offset, packetEnd = offset + (int)length;

        byte[] packet = ArrayPool<byte>.Shared.Rent(packetEnd);
        byte[] plain = ArrayPool<byte>.Shared.Rent(packetEnd);
        try
        {
            datagram[..packetEnd].CopyTo(packet);
            Span<byte> key = stackalloc byte[16], iv = stackalloc byte[12], hp = stackalloc byte[16];
            DeriveKeys(version, dcid, key, iv, hp);

            // Header protection (RFC 9001 §5.4.2): the sample starts 4 bytes after the packet number's start.
            Span<byte> mask = stackalloc byte[16];
            using (var aes = Aes.Create())
            {
                aes.Key = hp.ToArray();
                aes.EncryptEcb(packet.AsSpan(pnOffset + 4, 16), mask, PaddingMode.None);
            }
            packet[0] ^= (byte)(mask[0] & 0x0F);
            int pnLength = (packet[0] & 3) + 1;
            for (int i = 0; i < pnLength; i++) packet[pnOffset + i] ^= mask[1 + i];
            Span<byte> nonce = stackalloc byte[12];
            iv.CopyTo(nonce);
            for (int i = 0; i < pnLength; i++) nonce[12 - pnLength + i] ^= packet[pnOffset + i];

            int payloadStart = pnOffset + pnLength, cipherLength = packetEnd - payloadStart - 16;
            if (cipherLength <= 0) return found;
            using (var gcm = new AesGcm(key, 16))
            {
                try
                {
                    gcm.Decrypt(nonce, packet.AsSpan(payloadStart, cipherLength), packet.AsSpan(packetEnd - 16, 16),
                        plain.AsSpan(0, cipherLength), packet.AsSpan(0, payloadStart));
                }
                catch (AuthenticationTagMismatchException)
                {
                    return SniffResult.NotMatched; // not an Initial of this DCID after all
                }
            }
            return ReadClientHello(plain.AsSpan(0, cipherLength)) ?? found;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(packet);
            ArrayPool<byte>.Shared.Return(plain);
        }
    }

    /// <summary>RFC 9001 §5.2 / RFC 9369 §3.3: client Initial key, IV and header-protection key.</summary>
    internal static void DeriveKeys(uint version, ReadOnlySpan<byte> dcid, Span<byte> key, Span<byte> iv, Span<byte> hp)
    {
        Span<byte> initial = stackalloc byte[32], client = stackalloc byte[32];
        HKDF.Extract(HashAlgorithmName.SHA256, dcid, version == Version2 ? SaltV2 : SaltV1, initial);
        ExpandLabel(initial, "client in"u8, client);
        bool v2 = version == Version2;
        ExpandLabel(client, v2 ? "quicv2 key"u8 : "quic key"u8, key);
        ExpandLabel(client, v2 ? "quicv2 iv"u8 : "quic iv"u8, iv);
        ExpandLabel(client, v2 ? "quicv2 hp"u8 : "quic hp"u8, hp);
    }

    /// <summary>TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 §7.1).</summary>
    private static void ExpandLabel(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, Span<byte> output)
    {
        Span<byte> info = stackalloc byte[4 + 6 + label.Length];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)output.Length);
        info[2] = (byte)(6 + label.Length);
        "tls13 "u8.CopyTo(info[3..]);
        label.CopyTo(info[9..]);
        info[^1] = 0;
        HKDF.Expand(HashAlgorithmName.SHA256, secret, output, info);
    }

    /// <summary>Joins CRYPTO frames from offset 0 and reads the ClientHello's server name; null when it is not all here.</summary>
    private static SniffResult? ReadClientHello(ReadOnlySpan<byte> frames)
    {
        byte[] crypto = ArrayPool<byte>.Shared.Rent(MaxCrypto);
        try
        {
            int offset = 0;
            // Frames may arrive out of order (Chrome shuffles them): collect into place, then take the prefix.
            var filled = new BitSet(stackalloc ulong[MaxCrypto / 64]);
            while (offset < frames.Length)
            {
                byte frame = frames[offset++];
                switch (frame)
                {
                    case 0x00 or 0x01:
                        continue;
                    case 0x02 or 0x03:
                        if (!SkipAck(frames, ref offset, frame == 0x03)) return null;
                        continue;
                    case 0x06:
                        if (!TryVarint(frames, ref offset, out ulong at) || !TryVarint(frames, ref offset, out ulong size)) return null;
                        if (size > (ulong)(frames.Length - offset)) return null;
                        if (at + size <= MaxCrypto)
                        {
                            frames.Slice(offset, (int)size).CopyTo(crypto.AsSpan((int)at));
                            filled.Set((int)at, (int)size);
                        }
                        offset += (int)size;
                        continue;
                    default:
                        offset = frames.Length;
                        break;
                }
            }
            int contiguous = filled.PrefixLength();
            if (contiguous < 4 || crypto[0] != 1) return null;
            int helloLength = (crypto[1] << 16) | (crypto[2] << 8) | crypto[3];
            if (helloLength + 4 > contiguous) return null;
            var hello = TlsClientHello.ParseHello(crypto.AsSpan(4, helloLength));
            return hello.Status == SniffStatus.Found ? new SniffResult(SniffStatus.Found, "quic", hello.Domain) : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(crypto);
        }
    }

    private static bool SkipAck(ReadOnlySpan<byte> frames, ref int offset, bool ecn)
    {
        if (!TryVarint(frames, ref offset, out _) || !TryVarint(frames, ref offset, out _) || !TryVarint(frames, ref offset, out ulong ranges) || !TryVarint(frames, ref offset, out _))
            return false;
        if (ranges > 256) return false;
        for (ulong i = 0; i < ranges * 2; i++)
            if (!TryVarint(frames, ref offset, out _)) return false;
        for (int i = 0; ecn && i < 3; i++)
            if (!TryVarint(frames, ref offset, out _)) return false;
        return true;
    }

    /// <summary>RFC 9000 §16 variable-length integer.</summary>
    internal static bool TryVarint(ReadOnlySpan<byte> data, ref int offset, out ulong value)
    {
        value = 0;
        if (offset >= data.Length) return false;
        int length = 1 << (data[offset] >> 6);
        if (data.Length - offset < length) return false;
        value = (ulong)(data[offset] & 0x3F);
        for (int i = 1; i < length; i++) value = (value << 8) | data[offset + i];
        offset += length;
        return true;
    }

    /// <summary>Which bytes of the CRYPTO stream arrived, over stack memory.</summary>
    private ref struct BitSet(Span<ulong> bits)
    {
        private readonly Span<ulong> _bits = bits;

        public void Set(int start, int count)
        {
            for (int i = start; i < start + count; i++) _bits[i >> 6] |= 1UL << (i & 63);
        }

        public readonly int PrefixLength()
        {
            int n = 0;
            while (n < _bits.Length * 64 && (_bits[n >> 6] & (1UL << (n & 63))) != 0) n++;
            return n;
        }
    }
}
