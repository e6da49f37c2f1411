using System.Buffers.Binary;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Network;

namespace Sluice.Platform.Linux.Tests.Routing;

/// <summary>The rtnetlink requests byte by byte against the kernel ABI (linux/netlink.h, rtnetlink.h, fib_rules.h, if_addr.h).</summary>
public class RtnetlinkRequestTests
{
    private static ushort U16(byte[] m, int at) => BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(at));
    private static uint U32(byte[] m, int at) => BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(at));

    /// <summary>nlmsghdr: len u32 = the whole message, type u16, flags u16, seq u32, pid u32 = 0.</summary>
    private static void AssertHeader(byte[] m, ushort type, ushort flags, uint seq)
    {
        Assert.Equal((uint)m.Length, U32(m, 0));
        Assert.Equal(type, U16(m, 4));
        Assert.Equal(flags, U16(m, 6));
        Assert.Equal(seq, U32(m, 8));
        Assert.Equal(0u, U32(m, 12));
        Assert.Equal(0, m.Length % 4);
    }

    /// <summary>An rtattr at <paramref name="at"/>: len u16 (header + value, unpadded), type u16; returns the next, 4-aligned.</summary>
    private static int AssertAttr(byte[] m, int at, ushort type, byte[] value)
    {
        Assert.Equal(0, at % 4);
        Assert.Equal(4 + value.Length, U16(m, at));
        Assert.Equal(type, U16(m, at + 2));
        Assert.Equal(value, m.AsSpan(at + 4, value.Length).ToArray());
        int next = (at + 4 + value.Length + 3) & ~3;
        for (int i = at + 4 + value.Length; i < next; i++) Assert.Equal(0, m[i]);
        return next;
    }

    private static byte[] Le32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }

    [Fact]
    public void RouteReplace_DefaultIntoTheTun_IsNewRouteCreateReplace_ScopeLink_WithTableAndOif_AndNoDst()
    {
        var op = new RouteOperation(RouteVerb.Replace, RouteKind.Unicast, IpPrefix.Parse("0.0.0.0/0"), "sluice0", 2022);
        var m = RtnetlinkRequest.Route(op, 77, index: 7);
        AssertHeader(m, 24, 0x1 | 0x4 | 0x400 | 0x100, 77);
        // rtmsg: family AF_INET, dst_len 0, src_len 0, tos 0, table 0 (2022 > 255: RTA_TABLE), protocol boot,
        // scope link, type unicast, flags 0.
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 3, 253, 1 }, m[16..24]);
        Assert.Equal(0u, U32(m, 24));
        int at = AssertAttr(m, 28, 15, Le32(2022));
        at = AssertAttr(m, at, 4, Le32(7));
        Assert.Equal(m.Length, at);
        Assert.Equal("route replace 0.0.0.0/0 dev sluice0 table 2022", op.Render());
    }

    [Fact]
    public void RouteDelete_OfAThrowRoute_KeepsItsType_ScopeNowhere_AndCarriesTheNetworkAddress()
    {
        var op = new RouteOperation(RouteVerb.Delete, RouteKind.Throw, IpPrefix.Parse("10.99.1.2/16"), null, 100);
        var m = RtnetlinkRequest.Route(op, 1, index: 0);
        AssertHeader(m, 25, 0x1 | 0x4, 1);
        Assert.Equal(new byte[] { 2, 16, 0, 0, 100, 0, 255, 9 }, m[16..24]);
        int at = AssertAttr(m, 28, 15, Le32(100));
        at = AssertAttr(m, at, 1, [10, 99, 0, 0]);
        Assert.Equal(m.Length, at);
    }

    [Fact]
    public void RouteAdd_V6Unreachable_IsCreateExcl_ScopeUniverse_With16ByteDst()
    {
        var op = new RouteOperation(RouteVerb.Add, RouteKind.Unreachable, IpPrefix.Parse("fd00::/8"), null, 2022);
        var m = RtnetlinkRequest.Route(op, 2, index: 0);
        AssertHeader(m, 24, 0x1 | 0x4 | 0x400 | 0x200, 2);
        Assert.Equal(new byte[] { 10, 8, 0, 0, 0, 3, 0, 7 }, m[16..24]);
        int at = AssertAttr(m, 28, 15, Le32(2022));
        var dst = new byte[16]; dst[0] = 0xfd;
        at = AssertAttr(m, at, 1, dst);
        Assert.Equal(m.Length, at);
    }

    [Fact]
    public void RuleAdd_NotFwmarkLookup_IsNewRuleCreateExcl_InvertFlag_ToTableAction()
    {
        var op = new RuleOperation(true, V4: false, new RuleSpec(9000, Not: true, FwMark: 0x2022, Lookup: 2022));
        var m = RtnetlinkRequest.Rule(op, 5);
        AssertHeader(m, 32, 0x1 | 0x4 | 0x400 | 0x200, 5);
        // fib_rule_hdr: family AF_INET6, dst_len, src_len, tos, table 0 (in FRA_TABLE), res1, res2, action FR_ACT_TO_TBL; flags INVERT.
        Assert.Equal(new byte[] { 10, 0, 0, 0, 0, 0, 0, 1 }, m[16..24]);
        Assert.Equal(0x2u, U32(m, 24));
        int at = AssertAttr(m, 28, 6, Le32(9000));
        at = AssertAttr(m, at, 10, Le32(0x2022));
        at = AssertAttr(m, at, 15, Le32(2022));
        Assert.Equal(m.Length, at);
        Assert.Equal("rule add pref 9000 not fwmark 0x2022 lookup 2022", op.Render());
    }

    [Fact]
    public void RuleWithAnInterfaceName_PadsTheStringToFourBytes_SoTheNextAttributeStaysAligned()
    {
        var op = new RuleOperation(true, V4: true, new RuleSpec(8997, InputInterface: "lan1", Uids: new UidRange(1000, 1999), Goto: 9001));
        var m = RtnetlinkRequest.Rule(op, 9);
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0, 0, 2 }, m[16..24]); // FR_ACT_GOTO
        int at = AssertAttr(m, 28, 6, Le32(8997));
        at = AssertAttr(m, at, 3, "lan1\0"u8.ToArray()); // length 9, padded to 12
        at = AssertAttr(m, at, 20, [.. Le32(1000), .. Le32(1999)]);
        at = AssertAttr(m, at, 4, Le32(9001));
        Assert.Equal(m.Length, at);
        Assert.Equal("rule add pref 8997 iif lan1 uidrange 1000-1999 goto 9001", op.Render());
    }

    [Fact]
    public void RuleDelete_ByPriorityOnly_HasActionUnspec_AndOnlyThePriority()
    {
        var m = RtnetlinkRequest.Rule(new RuleOperation(false, true, new RuleSpec(8999)), 3);
        AssertHeader(m, 33, 0x1 | 0x4, 3);
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0 }, m[16..24]);
        Assert.Equal(m.Length, AssertAttr(m, 28, 6, Le32(8999)));
    }

    [Fact]
    public void AddressReplace_V6_HasNodadFlag_AndLocalAndAddressAttributes()
    {
        var op = new AddressOperation(IpPrefix.Parse("fd77::1/64"), "sluice0");
        var m = RtnetlinkRequest.Address(op, 4, index: 3);
        AssertHeader(m, 20, 0x1 | 0x4 | 0x400 | 0x100, 4);
        // ifaddrmsg: family, prefixlen, flags IFA_F_NODAD, scope universe, index u32.
        Assert.Equal(new byte[] { 10, 64, 0x02, 0 }, m[16..20]);
        Assert.Equal(3u, U32(m, 20));
        var address = System.Net.IPAddress.Parse("fd77::1").GetAddressBytes();
        int at = AssertAttr(m, 24, 2, address);
        at = AssertAttr(m, at, 1, address);
        Assert.Equal(m.Length, at);
        Assert.Equal("address replace fd77::1/64 dev sluice0 nodad", op.Render());
    }

    [Fact]
    public void LinkAddrGenModeNone_NestsAfSpecInet6_WithAOneBytePaddedValue()
    {
        var m = RtnetlinkRequest.Link(new LinkOperation("sluice0", AddrGenModeNone: true), 6, index: 3);
        AssertHeader(m, 16, 0x1 | 0x4, 6);
        // ifinfomsg: family unspec, pad, type u16, index i32, flags u32, change u32 (no flag change here).
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, m[16..20]);
        Assert.Equal(3u, U32(m, 20));
        Assert.Equal(0u, U32(m, 24));
        Assert.Equal(0u, U32(m, 28));
        Assert.Equal(16, U16(m, 32)); // IFLA_AF_SPEC: 4 + AF_INET6 (4 + gen mode 8 padded)
        Assert.Equal(26, U16(m, 34));
        Assert.Equal(12, U16(m, 36));
        Assert.Equal(10, U16(m, 38));
        Assert.Equal(m.Length, AssertAttr(m, 40, 8, [1]));
    }

    [Fact]
    public void LinkUp_SetsIffUpInFlagsAndChange_AndMtuIsAU32Attribute()
    {
        var up = RtnetlinkRequest.Link(new LinkOperation("t", Up: true), 1, index: 9);
        Assert.Equal(1u, U32(up, 24));
        Assert.Equal(1u, U32(up, 28));
        Assert.Equal(32, up.Length);
        var mtu = RtnetlinkRequest.Link(new LinkOperation("t", Mtu: 1420), 1, index: 9);
        Assert.Equal(0u, U32(mtu, 28));
        Assert.Equal(mtu.Length, AssertAttr(mtu, 32, 4, Le32(1420)));
    }
}
