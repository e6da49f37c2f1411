using System.Buffers.Binary;

namespace Sluice.Platform.Linux;

/// <summary>
/// struct virtio_net_hdr (10 bytes, include/uapi/linux/virtio_net.h), in front of every packet read from
/// or written to a TUN opened with IFF_VNET_HDR. The fields are little-endian: a TUN is "legacy virtio"
/// in native order unless TUNSETVNETBE says otherwise, and x86_64 / aarch64 are little-endian.
/// </summary>
internal readonly record struct VirtioNetHeader(byte Flags, byte GsoType, ushort HeaderLength, ushort GsoSize, ushort ChecksumStart, ushort ChecksumOffset)
{
    public const int Size = 10;

    /// <summary>The checksum from ChecksumStart to the end is still to be computed (the field holds the pseudo-header sum).</summary>
    public const byte NeedsChecksum = 1;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;
    public const byte GsoEcn = 0x80;

    /// <summary>Offset of the checksum field in a TCP header.</summary>
    public const ushort TcpChecksumOffset = 16;

    public static VirtioNetHeader Read(ReadOnlySpan<byte> bytes) => new(
        bytes[0], bytes[1],
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[2..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]));

    public void Write(Span<byte> bytes)
    {
        bytes[0] = Flags;
        bytes[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[2..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[6..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes[8..], ChecksumOffset);
    }
}
