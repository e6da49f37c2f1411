using System.Buffers.Binary;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Native;
using static Sluice.Platform.Linux.Native.Netlink;
using static Sluice.Platform.Linux.Network.RtnetlinkMessage;

namespace Sluice.Platform.Linux.Network;

/// <summary>
/// Encodes <see cref="NetworkOperation"/>s as rtnetlink requests (rtnetlink(7), linux/rtnetlink.h,
/// linux/fib_rules.h, linux/if_addr.h), with the field values <c>ip</c> (iproute2) sends for the same line,
/// so the kernel ends up with the same objects. Pure: the device index comes from <paramref name="indexOf"/>.
/// Layout: nlmsghdr (16: len u32, type u16, flags u16, seq u32, pid u32), the family header, then attributes
/// (rtattr: len u16, type u16, value; each padded to 4 bytes), all in host (little-endian) order except addresses.
/// </summary>
public static class RtnetlinkRequest
{
    // Message types are RtnetlinkMessage's, header flags Netlink's: one definition each.
    public const byte AF_UNSPEC = 0, AF_INET = 2, AF_INET6 = 10;

    // ifinfomsg / link attributes.
    public const uint IFF_UP = 0x1;
    public const ushort IFLA_MTU = 4, IFLA_AF_SPEC = 26, IFLA_INET6_ADDR_GEN_MODE = 8;
    public const byte IN6_ADDR_GEN_MODE_NONE = 1;

    // ifaddrmsg.
    public const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2;
    public const byte IFA_F_NODAD = 0x02;

    // rtmsg.
    public const ushort RTA_DST = 1, RTA_OIF = 4, RTA_TABLE = 15;
    public const byte RTPROT_BOOT = 3, RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253, RT_SCOPE_NOWHERE = 255;
    public const byte RTN_UNSPEC = 0, RTN_UNICAST = 1, RTN_BLACKHOLE = 6, RTN_UNREACHABLE = 7, RTN_THROW = 9;

    // fib_rule_hdr.
    public const ushort FRA_IIFNAME = 3, FRA_GOTO = 4, FRA_PRIORITY = 6, FRA_FWMARK = 10, FRA_TABLE = 15, FRA_UID_RANGE = 20;
    public const byte FR_ACT_UNSPEC = 0, FR_ACT_TO_TBL = 1, FR_ACT_GOTO = 2, FR_ACT_NOP = 3;
    public const uint FIB_RULE_INVERT = 0x2;

    /// <summary>The request for one operation, asking for an ack. A flush is not one request: see <see cref="RouteDump"/>.</summary>
    public static byte[] Encode(NetworkOperation operation, uint sequence, Func<string, int> indexOf) => operation switch
    {
        LinkOperation link => Link(link, sequence, indexOf(link.Device)),
        AddressOperation address => Address(address, sequence, indexOf(address.Device)),
        RouteOperation route => Route(route, sequence, route.Device is null ? 0 : indexOf(route.Device)),
        RuleOperation rule => Rule(rule, sequence),
        _ => throw new ArgumentException($"\"{operation.Render()}\" is not a single rtnetlink request", nameof(operation)),
    };

    /// <summary>RTM_NEWLINK on an existing link: ifinfomsg (16) = family, pad, type u16, index i32, flags u32, change u32.</summary>
    public static byte[] Link(LinkOperation link, uint sequence, int index)
    {
        var w = new Writer(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, sequence);
        w.U8(AF_UNSPEC); w.U8(0); w.U16(0); w.U32((uint)index);
        w.U32(link.Up ? IFF_UP : 0); w.U32(link.Up ? IFF_UP : 0);
        if (link.Mtu is { } mtu) w.AttrU32(IFLA_MTU, (uint)mtu);
        if (link.AddrGenModeNone)
        {
            int spec = w.BeginNested(IFLA_AF_SPEC);
            int inet6 = w.BeginNested(AF_INET6);
            w.Attr(IFLA_INET6_ADDR_GEN_MODE, [IN6_ADDR_GEN_MODE_NONE]);
            w.EndNested(inet6);
            w.EndNested(spec);
        }
        return w.Finish();
    }

    /// <summary>RTM_NEWADDR, create or replace: ifaddrmsg (8) = family, prefixlen, flags, scope, index u32; IFA_LOCAL, IFA_ADDRESS.</summary>
    public static byte[] Address(AddressOperation address, uint sequence, int index)
    {
        var w = new Writer(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, sequence);
        var prefix = address.Address;
        w.U8(prefix.IsV4 ? AF_INET : AF_INET6); w.U8((byte)prefix.Length);
        w.U8(address.NoDad ? IFA_F_NODAD : (byte)0); w.U8(RT_SCOPE_UNIVERSE);
        w.U32((uint)index);
        Span<byte> bytes = stackalloc byte[16];
        int n = prefix.Address.WriteTo(bytes);
        w.Attr(IFA_LOCAL, bytes[..n]);
        w.Attr(IFA_ADDRESS, bytes[..n]);
        return w.Finish();
    }

    /// <summary>
    /// RTM_NEWROUTE (add: create+excl, replace: create+replace) or RTM_DELROUTE: rtmsg (12) = family, dst_len,
    /// src_len, tos, table u8, protocol, scope, type, flags u32; RTA_TABLE, RTA_DST (not for /0), RTA_OIF.
    /// As ip: protocol boot on add; scope link for an IPv4 route with a device and no gateway, universe for other
    /// adds and all IPv6, nowhere (any) for an IPv4 delete; type unspec (any) for a plain delete.
    /// </summary>
    public static byte[] Route(RouteOperation route, uint sequence, int index)
    {
        bool delete = route.Verb == RouteVerb.Delete;
        ushort flags = (ushort)(NLM_F_REQUEST | NLM_F_ACK | route.Verb switch
        {
            RouteVerb.Add => NLM_F_CREATE | NLM_F_EXCL,
            RouteVerb.Replace => NLM_F_CREATE | NLM_F_REPLACE,
            _ => 0,
        });
        var w = new Writer(delete ? RTM_DELROUTE : RTM_NEWROUTE, flags, sequence);
        var dst = route.Destination;
        byte type = route.Kind switch
        {
            RouteKind.Throw => RTN_THROW,
            RouteKind.Unreachable => RTN_UNREACHABLE,
            RouteKind.Blackhole => RTN_BLACKHOLE,
            _ => delete ? RTN_UNSPEC : RTN_UNICAST,
        };
        byte scope = !dst.IsV4 ? RT_SCOPE_UNIVERSE
            : delete ? RT_SCOPE_NOWHERE
            : route.Kind == RouteKind.Unicast ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
        w.U8(dst.IsV4 ? AF_INET : AF_INET6); w.U8((byte)dst.Length); w.U8(0); w.U8(0);
        w.U8(route.Table < 256 ? (byte)route.Table : (byte)0);
        w.U8(delete ? (byte)0 : RTPROT_BOOT); w.U8(scope); w.U8(type);
        w.U32(0);
        w.AttrU32(RTA_TABLE, route.Table);
        if (dst.Length > 0)
        {
            Span<byte> bytes = stackalloc byte[16];
            int n = dst.Network.WriteTo(bytes);
            w.Attr(RTA_DST, bytes[..n]);
        }
        if (index != 0) w.AttrU32(RTA_OIF, (uint)index);
        return w.Finish();
    }

    /// <summary>
    /// RTM_NEWRULE (create+excl: a duplicate is EEXIST, as `ip rule add`) or RTM_DELRULE: fib_rule_hdr (12) =
    /// family, dst_len, src_len, tos, table u8, res1, res2, action, flags u32 (FIB_RULE_INVERT for `not`);
    /// FRA_PRIORITY, FRA_IIFNAME, FRA_UID_RANGE {start u32, end u32}, FRA_FWMARK (no mask: the kernel takes all
    /// bits), FRA_TABLE, FRA_GOTO. A delete that names only a priority has action unspec: any rule there.
    /// </summary>
    public static byte[] Rule(RuleOperation operation, uint sequence)
    {
        var r = operation.Rule;
        var w = new Writer(operation.Add ? RTM_NEWRULE : RTM_DELRULE,
            (ushort)(NLM_F_REQUEST | NLM_F_ACK | (operation.Add ? NLM_F_CREATE | NLM_F_EXCL : 0)), sequence);
        byte action = r.Lookup is not null ? FR_ACT_TO_TBL : r.Goto is not null ? FR_ACT_GOTO : r.Nop ? FR_ACT_NOP : FR_ACT_UNSPEC;
        w.U8(operation.V4 ? AF_INET : AF_INET6); w.U8(0); w.U8(0); w.U8(0);
        w.U8(r.Lookup is { } t && t < 256 ? (byte)t : (byte)0); w.U8(0); w.U8(0); w.U8(action);
        w.U32(r.Not ? FIB_RULE_INVERT : 0);
        w.AttrU32(FRA_PRIORITY, (uint)r.Priority);
        if (r.InputInterface is { } iif) w.AttrString(FRA_IIFNAME, iif);
        if (r.Uids is { } uids)
        {
            Span<byte> range = stackalloc byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(range, uids.First);
            BinaryPrimitives.WriteUInt32LittleEndian(range[4..], uids.Last);
            w.Attr(FRA_UID_RANGE, range);
        }
        if (r.FwMark is { } mark) w.AttrU32(FRA_FWMARK, mark);
        if (r.Lookup is { } table) w.AttrU32(FRA_TABLE, table);
        if (r.Goto is { } target) w.AttrU32(FRA_GOTO, (uint)target);
        return w.Finish();
    }

    /// <summary>RTM_GETROUTE dump of one family (the flush reads the table, then deletes each route it found).</summary>
    public static byte[] RouteDump(bool v4, uint sequence)
    {
        var w = new Writer(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, sequence);
        w.U8(v4 ? AF_INET : AF_INET6);
        for (int i = 0; i < 11; i++) w.U8(0);
        return w.Finish();
    }

    /// <summary>The table of a dumped RTM_NEWROUTE body (RTA_TABLE, else rtm_table); null when it is not a route.</summary>
    public static uint? RouteTable(ReadOnlySpan<byte> body)
    {
        if (body.Length < 12) return null;
        uint table = body[4];
        foreach (var a in NetlinkReader.Attributes(body[12..]))
            if (a.Type == RTA_TABLE && a.Value.Length >= 4) table = BinaryPrimitives.ReadUInt32LittleEndian(a.Value);
        return table;
    }

    /// <summary>A dumped route sent back as RTM_DELROUTE (what `ip route flush` does).</summary>
    public static byte[] DeleteDumped(ReadOnlySpan<byte> body, uint sequence)
    {
        var w = new Writer(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, sequence);
        w.Bytes(body);
        return w.Finish();
    }

    /// <summary>Builds one netlink message; the length is written by <see cref="Finish"/>.</summary>
    private sealed class Writer
    {
        private byte[] _buffer = new byte[256];
        private int _length;

        public Writer(ushort type, ushort flags, uint sequence)
        {
            U32(0); U16(type); U16(flags); U32(sequence); U32(0);
        }

        public void U8(byte value) { Reserve(1)[0] = value; }
        public void U16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2), value);
        public void U32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);
        public void Bytes(ReadOnlySpan<byte> value) => value.CopyTo(Reserve(value.Length));

        public void Attr(ushort type, ReadOnlySpan<byte> value)
        {
            U16((ushort)(4 + value.Length)); U16(type);
            Bytes(value);
            Pad();
        }

        public void AttrU32(ushort type, uint value)
        {
            Span<byte> v = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(v, value);
            Attr(type, v);
        }

        /// <summary>A NUL-terminated string, as the kernel's NLA_STRING/IFNAMSIZ attributes take it.</summary>
        public void AttrString(ushort type, string value)
        {
            var bytes = new byte[value.Length + 1];
            System.Text.Encoding.ASCII.GetBytes(value, bytes);
            Attr(type, bytes);
        }

        public int BeginNested(ushort type)
        {
            int start = _length;
            U16(0); U16(type);
            return start;
        }

        public void EndNested(int start) =>
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)(_length - start));

        public byte[] Finish()
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
            return _buffer[.._length];
        }

        private void Pad()
        {
            int padded = Netlink.Align(_length);
            if (padded > _length) Reserve(padded - _length).Clear();
        }

        private Span<byte> Reserve(int count)
        {
            if (_length + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
            var span = _buffer.AsSpan(_length, count);
            _length += count;
            return span;
        }
    }
}
