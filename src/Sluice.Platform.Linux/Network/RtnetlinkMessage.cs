using System.Buffers.Binary;
using System.Net;
using System.Text;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux.Network;

/// <summary>What one rtnetlink notification says, reduced to what decides "did the host's network change".</summary>
/// <param name="Kind">"link", "address" or "route".</param>
/// <param name="Added">NEW (true) or DEL (false).</param>
/// <param name="InterfaceIndex">ifindex of the link, the address's link, or the route's output interface (0 = none).</param>
/// <param name="InterfaceName">IFLA_IFNAME for links; null otherwise.</param>
/// <param name="Table">Route table (RTA_TABLE, else rtm_table); 0 for links and addresses.</param>
/// <param name="Cloned">RTM_F_CLONED: a route cache entry, not a configured route.</param>
public sealed record RtnetlinkEvent(string Kind, bool Added, int InterfaceIndex, string? InterfaceName, string? Prefix, uint Table, bool Cloned)
{
    public override string ToString() => Kind switch
    {
        "link" => $"link {InterfaceName ?? "#" + InterfaceIndex} {(Added ? "changed" : "removed")}",
        "address" => $"address {Prefix} {(Added ? "added" : "removed")} on #{InterfaceIndex}",
        _ => $"route {Prefix} {(Added ? "added" : "removed")} (table {Table}, oif #{InterfaceIndex})",
    };
}

/// <summary>
/// Decodes rtnetlink notifications (rtnetlink(7)): nlmsghdr, then ifinfomsg / ifaddrmsg / rtmsg and their
/// attributes. Untrusted length fields are checked against the buffer; a malformed message ends the batch.
/// </summary>
public static class RtnetlinkMessage
{
    /// <summary>rtnetlink message types (linux/rtnetlink.h), for the requests too.</summary>
    public const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_NEWADDR = 20, RTM_DELADDR = 21, RTM_NEWROUTE = 24, RTM_DELROUTE = 25,
        RTM_GETROUTE = 26, RTM_NEWRULE = 32, RTM_DELRULE = 33;
    private const ushort IFLA_IFNAME = 3, IFA_ADDRESS = 1, IFA_LOCAL = 2, RTA_DST = 1, RTA_OIF = 4, RTA_TABLE = 15;
    private const uint RTM_F_CLONED = 0x200;

    public static List<RtnetlinkEvent> Parse(ReadOnlySpan<byte> buffer)
    {
        var events = new List<RtnetlinkEvent>();
        foreach (var message in NetlinkReader.Messages(buffer))
            if (Decode(message.Type, message.Body) is { } e) events.Add(e);
        return events;
    }

    private static RtnetlinkEvent? Decode(ushort type, ReadOnlySpan<byte> body)
    {
        switch (type)
        {
            case RTM_NEWLINK or RTM_DELLINK when body.Length >= 16:
            {
                int index = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
                string? name = null;
                foreach (var a in NetlinkReader.Attributes(body[16..]))
                    if (a.Type == IFLA_IFNAME) name = Encoding.ASCII.GetString(a.Value).TrimEnd('\0');
                return new RtnetlinkEvent("link", type == RTM_NEWLINK, index, name, null, 0, false);
            }
            case RTM_NEWADDR or RTM_DELADDR when body.Length >= 8:
            {
                byte family = body[0], prefixLength = body[1];
                int index = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
                string? address = null;
                foreach (var a in NetlinkReader.Attributes(body[8..]))
                    if ((a.Type == IFA_LOCAL || (a.Type == IFA_ADDRESS && address is null)) && Address(family, a.Value) is { } found) address = found;
                return new RtnetlinkEvent("address", type == RTM_NEWADDR, index, null, $"{address}/{prefixLength}", 0, false);
            }
            case RTM_NEWROUTE or RTM_DELROUTE when body.Length >= 12:
            {
                byte family = body[0], dstLength = body[1];
                uint table = body[4];
                uint flags = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
                int oif = 0;
                string destination = family == 2 ? "0.0.0.0" : "::";
                foreach (var a in NetlinkReader.Attributes(body[12..]))
                {
                    if (a.Type == RTA_TABLE && a.Value.Length >= 4) table = BinaryPrimitives.ReadUInt32LittleEndian(a.Value);
                    else if (a.Type == RTA_OIF && a.Value.Length >= 4) oif = BinaryPrimitives.ReadInt32LittleEndian(a.Value);
                    else if (a.Type == RTA_DST && Address(family, a.Value) is { } found) destination = found;
                }
                return new RtnetlinkEvent("route", type == RTM_NEWROUTE, oif, null, $"{destination}/{dstLength}", table, (flags & RTM_F_CLONED) != 0);
            }
            default:
                return null;
        }
    }

    private static string? Address(byte family, ReadOnlySpan<byte> value) =>
        (family == 2 && value.Length >= 4) ? new IPAddress(value[..4]).ToString()
        : (family == 10 && value.Length >= 16) ? new IPAddress(value[..16]).ToString()
        : null;
}
