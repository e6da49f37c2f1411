using System.Buffers.Binary;
using Sluice.Core.Tun;

namespace Sluice.Core.Dns;

/// <summary>
/// The EDNS Client Subnet option (RFC 7871 6) Sluice adds to upstream queries when dns.client_subnet,
/// a server's client_subnet or a rule's client_subnet names a prefix:
/// OPTION-CODE 8, OPTION-LENGTH, FAMILY (1 = IPv4, 2 = IPv6), SOURCE PREFIX-LENGTH, SCOPE
/// PREFIX-LENGTH (0 in queries), then only the address bytes the prefix covers, host bits zero.
/// </summary>
internal static class EdnsClientSubnet
{
    public const ushort OptionCode = 8;

    /// <summary>Bytes the option takes inside the OPT record's RDATA.</summary>
    public static int Length(IpPrefix subnet) => 4 + 4 + AddressBytes(subnet);

    public static int Write(Span<byte> m, IpPrefix subnet)
    {
        int addressBytes = AddressBytes(subnet);
        BinaryPrimitives.WriteUInt16BigEndian(m, OptionCode);
        BinaryPrimitives.WriteUInt16BigEndian(m[2..], (ushort)(4 + addressBytes));
        BinaryPrimitives.WriteUInt16BigEndian(m[4..], subnet.IsV4 ? (ushort)1 : (ushort)2);
        m[6] = (byte)subnet.Length;
        m[7] = 0;
        Span<byte> address = stackalloc byte[16];
        int n = subnet.Network.WriteTo(address);
        address[..Math.Min(addressBytes, n)].CopyTo(m[8..]);
        return 8 + addressBytes;
    }

    /// <summary>RFC 7871 6: the address is truncated to ceil(SOURCE PREFIX-LENGTH / 8) bytes.</summary>
    private static int AddressBytes(IpPrefix subnet) => (subnet.Length + 7) / 8;
}
