using System.Buffers.Binary;
using Sluice.Platform.Linux.Network;

namespace Sluice.Daemon.Tests;

public sealed class RtnetlinkMessageTests
{
    private static byte[] Message(ushort type, byte[] body)
    {
        var m = new byte[16 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)m.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(4), type);
        body.CopyTo(m, 16);
        return m;
    }

    private static byte[] Attr(ushort type, byte[] value)
    {
        var a = new byte[(4 + value.Length + 3) & ~3];
        BinaryPrimitives.WriteUInt16LittleEndian(a, (ushort)(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(a.AsSpan(2), type);
        value.CopyTo(a, 4);
        return a;
    }

    [Fact]
    public void NewAddress_AndDefaultRoute_AreDecoded()
    {
        var ifaddr = new byte[] { 2, 24, 0, 0, 3, 0, 0, 0 }.Concat(Attr(2, [10, 200, 0, 3])).ToArray();
        var rtmsg = new byte[] { 2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0 }.Concat(Attr(4, BitConverter.GetBytes(3))).Concat(Attr(15, BitConverter.GetBytes(254u))).ToArray();
        var batch = Message(RtnetlinkMessage.RTM_NEWADDR, ifaddr).Concat(Message(RtnetlinkMessage.RTM_NEWROUTE, rtmsg)).ToArray();

        var events = RtnetlinkMessage.Parse(batch);

        Assert.Equal(2, events.Count);
        Assert.Equal(new RtnetlinkEvent("address", true, 3, null, "10.200.0.3/24", 0, false), events[0]);
        Assert.Equal(new RtnetlinkEvent("route", true, 3, null, "0.0.0.0/0", 254, false), events[1]);
    }

    [Fact]
    public void TunEvents_AndOtherTables_AreNotNetworkChanges()
    {
        using var monitor = new NetlinkMonitor(() => "sluice0");
        Assert.Null(monitor.Describe(new RtnetlinkEvent("link", true, 999_999, "sluice0", null, 0, false)));
        Assert.Null(monitor.Describe(new RtnetlinkEvent("route", true, 0, null, "0.0.0.0/0", 5140, false)));
        Assert.Null(monitor.Describe(new RtnetlinkEvent("route", true, 0, null, "10.0.0.0/8", 254, true)));
        Assert.NotNull(monitor.Describe(new RtnetlinkEvent("route", true, 0, null, "0.0.0.0/0", 254, false)));
    }

    [Fact]
    public void Truncated_OrLying_Lengths_EndTheBatch_WithoutThrowing()
    {
        var good = Message(RtnetlinkMessage.RTM_NEWLINK, new byte[16].Concat(Attr(3, "eth0\0"u8.ToArray())).ToArray());
        var lying = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(lying, 4096);
        var random = new Random(1);
        for (int i = 0; i < 2000; i++)
        {
            var noise = new byte[random.Next(0, 80)];
            random.NextBytes(noise);
            RtnetlinkMessage.Parse(good.Concat(noise).ToArray());
        }

        Assert.Equal("eth0", Assert.Single(RtnetlinkMessage.Parse(good)).InterfaceName);
        Assert.Empty(RtnetlinkMessage.Parse(lying));
        Assert.Empty(RtnetlinkMessage.Parse(good[..10]));
    }
}
