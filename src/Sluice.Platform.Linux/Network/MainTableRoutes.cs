using System.Buffers.Binary;
using Sluice.Core.Gate;
using Sluice.Core.Tun;
using Sluice.Packets;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux.Network;

/// <summary>
/// The main table's unicast routes of both families, read in process with an rtnetlink dump: what
/// <c>ip -j route show table main</c> lists, with protocols named as ip names them.
/// </summary>
internal static class MainTableRoutes
{
    private const uint MainTable = 254;
    private const byte RTN_UNICAST = 1;
    private const ushort RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_TABLE = 15;

    public static IReadOnlyList<HostRoute> Read()
    {
        var routes = new List<HostRoute>();
        using var socket = new RtnetlinkSocket();
        foreach (bool v4 in new[] { true, false })
        {
            if (socket.DumpRoutes(v4, out var bodies) != 0) continue;
            foreach (var body in bodies)
                if (Decode(body, RtnetlinkSocket.NameOf) is { } route) routes.Add(route);
        }
        return routes;
    }

    /// <summary>A dumped route of the main table with a destination; null for other tables, types and defaults.</summary>
    public static HostRoute? Decode(ReadOnlySpan<byte> body, Func<int, string> nameOf)
    {
        if (body.Length < 12) return null;
        byte family = body[0], length = body[1], protocol = body[5], type = body[7];
        uint table = body[4];
        int addressLength = family == 2 ? 4 : 16;
        NetAddress? dst = null, gateway = null;
        int oif = 0;
        foreach (var a in NetlinkReader.Attributes(body[12..]))
        {
            if (a.Type == RTA_TABLE && a.Value.Length >= 4) table = BinaryPrimitives.ReadUInt32LittleEndian(a.Value);
            else if (a.Type == RTA_OIF && a.Value.Length >= 4) oif = BinaryPrimitives.ReadInt32LittleEndian(a.Value);
            else if (a.Type == RTA_DST && a.Value.Length == addressLength) dst = NetAddress.FromBytes(a.Value);
            else if (a.Type == RTA_GATEWAY && a.Value.Length == addressLength) gateway = NetAddress.FromBytes(a.Value);
        }
        if (table != MainTable || type != RTN_UNICAST || length == 0 || dst is not { } destination) return null;
        return new HostRoute(new IpPrefix(destination, length), gateway?.ToString(), oif == 0 ? "" : nameOf(oif), ProtocolName(protocol));
    }

    /// <summary>rtm_protocol as ip names it (/usr/share/iproute2/rt_protos), else the number; null for boot, which ip leaves out.</summary>
    public static string? ProtocolName(byte protocol) => protocol switch
    {
        0 => "unspec", 3 => null, 1 => "redirect", 2 => "kernel", 4 => "static", 8 => "gated", 9 => "ra", 10 => "mrt", 11 => "zebra",
        12 => "bird", 13 => "dnrouted", 14 => "xorp", 15 => "ntk", 16 => "dhcp", 17 => "mrouted", 18 => "keepalived",
        42 => "babel", 99 => "openr", 186 => "bgp", 187 => "isis", 188 => "ospf", 189 => "rip", 192 => "eigrp",
        _ => protocol.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
