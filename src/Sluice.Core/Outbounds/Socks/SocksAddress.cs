using System.Buffers.Binary;
using System.Text;
using Sluice.Packets;

namespace Sluice.Core.Outbounds.Socks;

/// <summary>
/// The SOCKS5 address (RFC 1928 §5): ATYP, address, port. Shadowsocks reuses it verbatim as the
/// target header of a stream and of every UDP packet, so both protocols share this codec.
/// </summary>
internal static class SocksAddress
{
    public const byte IPv4 = 1;
    public const byte DomainName = 3;
    public const byte IPv6 = 4;

    /// <summary>Longest encoding: ATYP + length + 255-byte name + port.</summary>
    public const int MaxLength = 1 + 1 + 255 + 2;

    /// <summary>
    /// Writes the destination. The address is sent when it is known; a domain only when the flow has
    /// no address (a `mixed` inbound request by name), so the server connects where the app meant to.
    /// </summary>
    public static int Write(Span<byte> buffer, Destination destination)
    {
        if (UsesDomain(destination))
        {
            int n = Encoding.ASCII.GetBytes(destination.Domain!, buffer[2..]);
            if (n > 255) throw new OutboundException($"domain name {destination.Domain} is longer than 255 bytes");
            buffer[0] = DomainName;
            buffer[1] = (byte)n;
            BinaryPrimitives.WriteUInt16BigEndian(buffer[(2 + n)..], destination.Port);
            return 2 + n + 2;
        }
        var address = destination.Address;
        buffer[0] = address.IsV4 ? IPv4 : IPv6;
        int length = address.WriteTo(buffer[1..]);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[(1 + length)..], destination.Port);
        return 1 + length + 2;
    }

    public static bool UsesDomain(Destination destination) =>
        destination.Domain is { Length: > 0 } && destination.Address == default;

    /// <summary>Parses an address at the start of <paramref name="data"/>; returns bytes used, 0 if incomplete, -1 if invalid.</summary>
    public static int TryRead(ReadOnlySpan<byte> data, out Destination destination)
    {
        destination = default;
        if (data.IsEmpty) return 0;
        switch (data[0])
        {
            case IPv4:
                if (data.Length < 7) return 0;
                destination = new Destination(NetAddress.FromBytes(data.Slice(1, 4)), BinaryPrimitives.ReadUInt16BigEndian(data[5..]));
                return 7;
            case IPv6:
                if (data.Length < 19) return 0;
                destination = new Destination(NetAddress.FromBytes(data.Slice(1, 16)), BinaryPrimitives.ReadUInt16BigEndian(data[17..]));
                return 19;
            case DomainName:
                if (data.Length < 2) return 0;
                int n = data[1];
                if (n == 0) return -1;
                if (data.Length < 2 + n + 2) return 0;
                string name = Encoding.ASCII.GetString(data.Slice(2, n));
                destination = Destination.Named(name, BinaryPrimitives.ReadUInt16BigEndian(data[(2 + n)..]));
                return 2 + n + 2;
            default:
                return -1;
        }
    }
}
