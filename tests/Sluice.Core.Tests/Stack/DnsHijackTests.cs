using Sluice.Core.Dns;
using Sluice.Core.Stack;
using Sluice.Core.Tests.Dns;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// Hijacked DNS queries that wait for an upstream (issue 17, finding 7): each holds pooled buffers, so a flood
/// of random names to a silent upstream must not queue without bound. At most PendingDnsPerClient per
/// querying address and PendingDnsTotal in all wait; the rest are dropped and counted, and a slot frees when
/// its query is answered or times out.
/// </summary>
public sealed class DnsHijackTests
{
    private static readonly NetAddress Resolver = NetAddress.Parse("10.200.0.1");

    [Fact]
    public async Task QueriesWaitingForASilentUpstream_AreCappedPerClientAndInAll_AndTheRestDroppedAndCounted()
    {
        await using var upstream = new DnsResponder(_ => null);
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("silent", upstream)], Timeout = TimeSpan.FromSeconds(1) });
        var tun = new ChannelTun();
        var logs = new LogLines();
        var hijack = new DnsHijack(server, tun, logs.CreateLogger("dns"), EngineLimits.Default with { PendingDnsPerClient = 3, PendingDnsTotal = 5 });

        for (int i = 0; i < 5; i++) Ask(hijack, "172.19.0.1", $"a{i}.flood.test");
        for (int i = 0; i < 5; i++) Ask(hijack, "172.19.0.5", $"b{i}.flood.test");

        // 3 of the first client's wait (its cap); 2 of the second's (the total's cap); 5 dropped.
        Assert.Equal(5, hijack.DroppedQueries);
        for (int i = 0; i < 100 && upstream.Count < 5; i++) await Task.Delay(20);
        await Task.Delay(100);
        var asked = upstream.Seen.Select(q => q.Name).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToArray();
        Assert.Equal(["a0.flood.test", "a1.flood.test", "a2.flood.test", "b0.flood.test", "b1.flood.test"], asked);
        Assert.Contains(logs.Lines, l => l.Contains("DNS queries waiting for an upstream are at the limit", StringComparison.Ordinal));

        // The server timeout answers the waiting ones (SERVFAIL) and frees their slots: a new query waits again.
        for (int i = 0; i < 5; i++) Assert.Equal(2, DnsRcode(tun.Take(TimeSpan.FromSeconds(10))));
        Ask(hijack, "172.19.0.1", "c0.flood.test");
        Assert.Equal(5, hijack.DroppedQueries);
        for (int i = 0; i < 100 && !upstream.Seen.Any(q => q.Name == "c0.flood.test"); i++) await Task.Delay(20);
        Assert.Contains(upstream.Seen, q => q.Name == "c0.flood.test");
        hijack.Stop();
    }

    private static void Ask(DnsHijack hijack, string client, string name)
    {
        var key = new FlowKey(IpProtocol.Udp, NetAddress.Parse(client), 40000, Resolver, 53);
        hijack.OnUdpQuery(key, Msg.Query(name), DnsKit.Tun);
    }

    /// <summary>The RCODE of a DNS answer inside the IPv4/UDP packet written to the TUN.</summary>
    private static int DnsRcode(byte[] packet) => packet[20 + 8 + 3] & 0x0F;
}
