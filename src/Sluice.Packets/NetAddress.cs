using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Sluice.Packets;

/// <summary>
/// An IPv4 or IPv6 address as a 16-byte value (IPv4 kept in the low 4 bytes), so flow keys and
/// NAT tables can hold addresses without allocating <see cref="IPAddress"/> objects per packet.
/// </summary>
public readonly record struct NetAddress
{
    private readonly ulong _high;
    private readonly ulong _low;

    /// <summary>True for IPv4, false for IPv6.</summary>
    public bool IsV4 { get; }

    private NetAddress(ulong high, ulong low, bool isV4)
    {
        _high = high;
        _low = low;
        IsV4 = isV4;
    }

    /// <summary>Address length on the wire: 4 or 16 bytes.</summary>
    public int Length => IsV4 ? 4 : 16;

    public static NetAddress FromV4(uint hostOrder) => new(0, hostOrder, true);

    /// <summary>Reads 4 (IPv4) or 16 (IPv6) network-order bytes.</summary>
    public static NetAddress FromBytes(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => new NetAddress(0, BinaryPrimitives.ReadUInt32BigEndian(bytes), true),
        16 => new NetAddress(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            false),
        _ => throw new ArgumentException($"an IP address is 4 or 16 bytes, not {bytes.Length}", nameof(bytes)),
    };

    public static NetAddress FromIPAddress(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        return FromBytes(bytes[..written]);
    }

    public static NetAddress Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public static bool TryParse(string? text, out NetAddress address)
    {
        if (IPAddress.TryParse(text, out var ip))
        {
            address = FromIPAddress(ip);
            return true;
        }
        address = default;
        return false;
    }

    /// <summary>Writes the address in network order; returns the bytes written (4 or 16).</summary>
    public int WriteTo(Span<byte> destination)
    {
        if (IsV4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)_low);
            return 4;
        }
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
        return 16;
    }

    /// <summary>IPv4 address in host order (only meaningful when <see cref="IsV4"/>).</summary>
    public uint V4Value => (uint)_low;

    /// <summary>The 128-bit value (IPv4 in the low 32 bits); used by prefix tries.</summary>
    public UInt128 Value => new(_high, _low);

    public AddressFamily Family => IsV4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        int n = WriteTo(bytes);
        return new IPAddress(bytes[..n]);
    }

    public override string ToString() => ToIPAddress().ToString();
}
