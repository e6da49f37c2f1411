namespace Sluice.Packets;

/// <summary>
/// The 5-tuple of a flow as seen on the TUN device, source being the local app. For ICMP echo the
/// identifier stands in both port fields. This is all the flow table and the router see of a packet.
/// </summary>
public readonly record struct FlowKey(
    byte Protocol,
    NetAddress Source,
    ushort SourcePort,
    NetAddress Destination,
    ushort DestinationPort)
{
    public bool IsV4 => Source.IsV4;

    /// <summary>The key of the opposite direction.</summary>
    public FlowKey Reverse() => new(Protocol, Destination, DestinationPort, Source, SourcePort);

    public override string ToString()
    {
        string proto = Protocol switch { IpProtocol.Tcp => "tcp", IpProtocol.Udp => "udp", IpProtocol.Icmp => "icmp", IpProtocol.IcmpV6 => "icmpv6", _ => Protocol.ToString() };
        return Source.IsV4
            ? $"{proto} {Source}:{SourcePort} -> {Destination}:{DestinationPort}"
            : $"{proto} [{Source}]:{SourcePort} -> [{Destination}]:{DestinationPort}";
    }
}

/// <summary>IP protocol numbers (IANA).</summary>
public static class IpProtocol
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte IcmpV6 = 58;
}
