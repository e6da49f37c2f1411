using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sluice.Packets;

/// <summary>
/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
/// </summary>
/// <remarks>
/// Every value here is in "network order numeric" form: the <see cref="ushort"/> you would write
/// with <see cref="BinaryPrimitives.WriteUInt16BigEndian(Span{byte}, ushort)"/>. Sums are one's
/// complement sums; <see cref="Fold(ulong)"/> reduces them to 16 bits without complementing, and a
/// checksum is the complement of a folded sum. Computing over data that contains a correct
/// checksum yields 0.
/// </remarks>
public static class Checksum
{
    /// <summary>The RFC 1071 checksum of <paramref name="data"/> (checksum field zeroed by the caller).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => (ushort)~Fold(PartialSum(data));

    /// <summary>
    /// The one's complement sum of <paramref name="data"/> as 16-bit big-endian words (an odd last
    /// byte is padded with zero), added to <paramref name="initial"/>. The result is folded to 16 bits,
    /// so partial sums can be chained. Chained spans must each start at an even offset of the
    /// checksummed whole, or the sum is wrong.
    /// </summary>
    public static uint PartialSum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        // RFC 1071 §2(B): the sum is byte-order independent, so add native-order words and swap once.
        // 8 bytes at a time: each ulong's two 32-bit halves go into a 64-bit accumulator, which
        // cannot overflow below 2^31 iterations, so no per-step carry handling is needed.
        ulong sum = 0;
        ref byte start = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        int i = 0;
        if (Vector256.IsHardwareAccelerated && length >= 128)
        {
            // The same sum of 32-bit words, 16 at a time: each widened to 64 bits, so no lane can overflow.
            Vector256<ulong> a0 = Vector256<ulong>.Zero, a1 = Vector256<ulong>.Zero, a2 = Vector256<ulong>.Zero, a3 = Vector256<ulong>.Zero;
            for (; i + 64 <= length; i += 64)
            {
                var (l0, h0) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)i).AsUInt32());
                var (l1, h1) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)(i + 32)).AsUInt32());
                a0 += l0;
                a1 += h0;
                a2 += l1;
                a3 += h1;
            }
            var total = (a0 + a1) + (a2 + a3);
            // Four lanes of < 2^58 each: their sum cannot overflow 64 bits.
            sum = total[0] + total[1] + total[2] + total[3];
        }
        for (; i + 32 <= length; i += 32)
        {
            ulong a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            ulong b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i + 8));
            ulong c = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i + 16));
            ulong d = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i + 24));
            sum += (a & 0xFFFFFFFF) + (a >> 32) + (b & 0xFFFFFFFF) + (b >> 32)
                 + (c & 0xFFFFFFFF) + (c >> 32) + (d & 0xFFFFFFFF) + (d >> 32);
        }
        for (; i + 8 <= length; i += 8)
        {
            ulong a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            sum += (a & 0xFFFFFFFF) + (a >> 32);
        }
        if (i + 4 <= length)
        {
            sum += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
            i += 4;
        }
        if (i + 2 <= length)
        {
            sum += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, i));
            i += 2;
        }
        if (i < length)
        {
            // The odd byte is the high byte of a zero-padded big-endian word.
            byte last = Unsafe.Add(ref start, i);
            sum += BitConverter.IsLittleEndian ? last : (uint)last << 8;
        }

        ushort folded = Fold(sum);
        if (BitConverter.IsLittleEndian) folded = BinaryPrimitives.ReverseEndianness(folded);
        return Fold((ulong)folded + initial);
    }

    /// <summary>Folds a one's complement sum to 16 bits (end-around carry), without complementing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <inheritdoc cref="Fold(ulong)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(uint sum) => Fold((ulong)sum);

    /// <summary>
    /// The full TCP/UDP/ICMPv6 checksum of <paramref name="segment"/> with the IPv4 (RFC 793 §3.1)
    /// or IPv6 (RFC 8200 §8.1) pseudo-header. Zero the checksum field first; over a segment with a
    /// correct checksum the result is 0. UDP transmits a computed 0 as 0xFFFF (the caller's job).
    /// </summary>
    public static ushort PseudoHeaderTransport(NetAddress src, NetAddress dst, byte protocol, ReadOnlySpan<byte> segment)
    {
        if (src.IsV4 != dst.IsV4)
            throw new ArgumentException($"pseudo-header addresses must be the same family, not {src} and {dst}", nameof(dst));
        return (ushort)~Fold(PartialSum(segment, PseudoHeaderSum(src, dst, protocol, segment.Length)));
    }

    /// <summary>The folded sum of the pseudo-header for a segment of <paramref name="length"/> bytes.</summary>
    public static uint PseudoHeaderSum(NetAddress src, NetAddress dst, byte protocol, int length)
    {
        ulong sum = AddressSum(src) + AddressSum(dst) + protocol + (uint)(length & 0xFFFF) + (uint)(length >>> 16);
        return Fold(sum);
    }

    /// <summary>The folded one's complement sum of an address's 16-bit words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint AddressSum(NetAddress address)
    {
        UInt128 value = address.Value;
        ulong high = (ulong)(value >> 64);
        ulong low = (ulong)value;
        ulong sum = (high >> 48) + ((high >> 32) & 0xFFFF) + ((high >> 16) & 0xFFFF) + (high & 0xFFFF)
                  + (low >> 48) + ((low >> 32) & 0xFFFF) + ((low >> 16) & 0xFFFF) + (low & 0xFFFF);
        return Fold(sum);
    }

    /// <summary>RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word changing from m to m'.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update(ushort oldChecksum, ushort oldValue, ushort newValue)
    {
        ulong sum = (ulong)(ushort)~oldChecksum + (ushort)~oldValue + newValue;
        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 update for a 32-bit field (two adjacent words at an even offset).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update32(ushort oldChecksum, uint oldValue, uint newValue)
    {
        ulong sum = (ulong)(ushort)~oldChecksum
                  + (ushort)~(oldValue >> 16) + (ushort)~oldValue
                  + (newValue >> 16) + (newValue & 0xFFFF);
        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 update for an address (4 or 16 bytes, at an even offset) replaced by another of the same length.</summary>
    public static ushort UpdateAddress(ushort oldChecksum, ReadOnlySpan<byte> oldAddr, ReadOnlySpan<byte> newAddr)
    {
        if (oldAddr.Length != newAddr.Length)
            throw new ArgumentException($"addresses must have the same length, not {oldAddr.Length} and {newAddr.Length}", nameof(newAddr));
        return ApplyDelta(oldChecksum, (ushort)~PartialSum(oldAddr), PartialSum(newAddr));
    }

    /// <summary>
    /// Adds a precomputed delta (the complement of the removed words' sum plus the added words' sum)
    /// to a checksum: HC' = ~(~HC + delta).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort ApplyDelta(ushort oldChecksum, uint removedComplement, uint added)
    {
        ulong sum = (ulong)(ushort)~oldChecksum + removedComplement + added;
        return (ushort)~Fold(sum);
    }

    /// <summary>
    /// True when the TCP, UDP, ICMP or ICMPv6 checksum of <paramref name="packet"/> is correct. UDP
    /// over IPv4 with checksum 0 (none) counts as valid; over IPv6 it does not (RFC 8200 §8.1).
    /// False for fragments (the checksum covers the reassembled datagram) and other protocols.
    /// </summary>
    public static bool VerifyTransport(in IpPacket packet)
    {
        if (packet.IsFragment) return false;
        Span<byte> segment = packet.Payload;
        switch (packet.Protocol)
        {
            case IpProtocol.Tcp:
                if (segment.Length < TcpSegment.MinHeaderLength) return false;
                break;
            case IpProtocol.Udp:
                if (segment.Length < UdpDatagram.HeaderLength) return false;
                if (BinaryPrimitives.ReadUInt16BigEndian(segment[UdpDatagram.ChecksumOffset..]) == 0) return packet.IsV4;
                break;
            case IpProtocol.Icmp when packet.IsV4:
                return segment.Length >= IcmpMessage.HeaderLength && Fold(PartialSum(segment)) == 0xFFFF;
            case IpProtocol.IcmpV6 when !packet.IsV4:
                if (segment.Length < IcmpMessage.HeaderLength) return false;
                break;
            default:
                return false;
        }
        uint pseudo = Fold((ulong)PartialSum(packet.SourceBytes) + PartialSum(packet.DestinationBytes)
                           + packet.Protocol + (uint)(segment.Length & 0xFFFF) + (uint)(segment.Length >>> 16));
        return Fold(PartialSum(segment, pseudo)) == 0xFFFF;
    }
}
