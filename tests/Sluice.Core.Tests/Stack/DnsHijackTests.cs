using System.Buffers.Binary;
using Sluice.Core.Dns;
using Sluice.Core.Flows;
using Sluice.Core.Stack;
using Sluice.Core.Tests.Dns;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// Hijacked DNS queries that wait for an upstream (issue 17, finding 7): each holds pooled buffers, so a flood
/// of random names to a silent upstream must not queue without bound. At most PendingDnsPerOwner per owner
/// (the socket's uid; the querying address when no local socket is found) and PendingDnsTotal in all wait; the
/// rest are dropped and counted, and a slot frees when its query is answered or times out. Every local app asks
/// from the TUN's own address, so a share per address would let one flooding app silence all others' DNS.
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
        var hijack = new DnsHijack(server, tun, logs.CreateLogger("dns"), EngineLimits.Default with { PendingDnsPerOwner = 3, PendingDnsTotal = 5 });

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

    [Fact]
    public async Task AnOwnerFloodingASilentUpstream_AtItsCap_DoesNotStopAnotherOwnersQueryFromTheSameAddress()
    {
        // Flood names get no answer ever (the fake clock never reaches the server's timeout); other names are answered.
        await using var upstream = new DnsResponder(q => q.Name.EndsWith(".flood.test", StringComparison.Ordinal) ? null : Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.7", 300)));
        var clock = new FakeClock();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("silent", upstream)] }, clock);
        var tun = new ChannelTun();
        var logs = new LogLines();
        // Ports 40000+ belong to uid 1001 (the flooding app), 50000 to uid 1002, 60000 has no local socket.
        var owners = new PortOwners(port => port switch { >= 60000 => null, >= 50000 => 1002u, _ => 1001u });
        var hijack = new DnsHijack(server, tun, logs.CreateLogger("dns"), EngineLimits.Default with { PendingDnsPerOwner = 4, PendingDnsTotal = 10 }, owners, clock);

        for (int i = 0; i < 20; i++) Ask(hijack, "172.19.0.1", $"n{i}.flood.test", (ushort)(40000 + i));
        Assert.Equal(16, hijack.DroppedQueries); // the flooder's own cap: 4 wait, the rest dropped

        Ask(hijack, "172.19.0.1", "victim.example.test", 50000);
        Assert.True(hijack.DroppedQueries == 16, "the other owner's query was dropped: the flooder's full share is its own too");
        var answer = tun.Take(TimeSpan.FromSeconds(10));
        Assert.Contains(logs.Lines, l => l.Contains("uid 1001 filled its own share", StringComparison.Ordinal));
        Assert.Equal(50000, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(20 + 2))); // to the victim's socket
        Assert.Equal(0, DnsRcode(answer));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(20 + 8 + 6))); // one answer record
        Assert.Equal(16, hijack.DroppedQueries);

        // A query whose socket is not found counts against its address, not against a uid's share.
        Ask(hijack, "172.19.0.1", "stray.example.test", 60000);
        Assert.Equal(60000, BinaryPrimitives.ReadUInt16BigEndian(tun.Take(TimeSpan.FromSeconds(10)).AsSpan(20 + 2)));
        Assert.Equal(16, hijack.DroppedQueries);
        hijack.Stop();
    }

    [Fact]
    public async Task AQueryAnsweredFromTheCache_DoesNotLookUpTheQueryingSocketsOwner()
    {
        // Every query of a stub resolver comes from a new socket (a new flow): the owner lookup is a sock_diag exchange
        // on the packet thread, needed only for a query that will wait for an upstream (its share decides).
        await using var upstream = new DnsResponder(q => Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.8", 300)));
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("lan", upstream)] });
        var tun = new ChannelTun();
        var owners = new PortOwners(_ => 1001u);
        var hijack = new DnsHijack(server, tun, new LogLines().CreateLogger("dns"), EngineLimits.Default, owners);

        Ask(hijack, "172.19.0.1", "cached.example.test", 50000);
        Assert.Equal(0, DnsRcode(tun.Take(TimeSpan.FromSeconds(10))));
        Assert.Equal(1, owners.Lookups); // a miss: it waited for the upstream, in its owner's share

        for (ushort port = 50001; port < 50011; port++) Ask(hijack, "172.19.0.1", "cached.example.test", port);
        for (int i = 0; i < 10; i++) Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(tun.Take(TimeSpan.FromSeconds(10)).AsSpan(20 + 8 + 6)));
        Assert.Equal(1, owners.Lookups);
        Assert.Equal(1, upstream.Count);
        Assert.Equal(11, server.Statistics.Queries); // each query counted once, whichever pass answered it

        Ask(hijack, "172.19.0.1", "other.example.test", 50011);
        Assert.Equal(0, DnsRcode(tun.Take(TimeSpan.FromSeconds(10))));
        Assert.Equal(2, owners.Lookups);
        hijack.Stop();
    }

    [Fact]
    public async Task ASocketAtItsOwnersLimit_IsRefusedBeforeItsQueriesAreParsed_EvenACachedName()
    {
        // A flood from one socket (one session, its owner known after its first miss) must cost the packet thread a lock
        // and a counter per datagram, not a parse, a rule match and a cache lookup: at its limit it is refused first.
        await using var upstream = new DnsResponder(q => q.Name.EndsWith(".flood.test", StringComparison.Ordinal) ? null : Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.9", 300)));
        var clock = new FakeClock();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("lan", upstream)] }, clock);
        var tun = new ChannelTun();
        var hijack = new DnsHijack(server, tun, new LogLines().CreateLogger("dns"), EngineLimits.Default with { PendingDnsPerOwner = 3, PendingDnsTotal = 10 }, new PortOwners(_ => 1001u), clock);
        Ask(hijack, "172.19.0.1", "cached.example.test", 50000); // another socket of the same user caches the name
        Assert.Equal(0, DnsRcode(tun.Take(TimeSpan.FromSeconds(10))));

        var flooder = new FlowKey(IpProtocol.Udp, NetAddress.Parse("172.19.0.1"), 40000, Resolver, 53);
        DnsQueryOwner? owner = null;
        for (int i = 0; i < 5; i++) hijack.OnUdpQuery(flooder, Msg.Query($"f{i}.flood.test"), DnsKit.Tun, ref owner);
        Assert.Equal(2, hijack.DroppedQueries); // 3 wait (the share), 2 refused
        hijack.OnUdpQuery(flooder, Msg.Query("cached.example.test"), DnsKit.Tun, ref owner);
        Assert.Equal(3, hijack.DroppedQueries);

        // Another socket of the same user is not refused up front: its cached name is answered.
        Ask(hijack, "172.19.0.1", "cached.example.test", 50001);
        Assert.Equal(50001, BinaryPrimitives.ReadUInt16BigEndian(tun.Take(TimeSpan.FromSeconds(10)).AsSpan(20 + 2)));
        hijack.Stop();
    }

    [Fact]
    public async Task QueriesWaitingForAnUpstream_HoldWhatTheirClientCanReceive_NotA64KiBBufferEach()
    {
        // The soak's junk-DNS flood keeps its owner's share waiting and churns through thousands of random names: each
        // waiting query used to hold a 64 KiB answer buffer, more than the pool's bucket keeps, and the heap grew with
        // every flood. A client without EDNS can take 512 bytes (RFC 1035 4.2.1), with EDNS its payload size: so much room.
        await using var upstream = new DnsResponder(_ => null); // silent: the fake clock never reaches the timeout
        var clock = new FakeClock();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("silent", upstream)] }, clock);
        var pool = new CountingPool();
        var hijack = new DnsHijack(server, new ChannelTun(), new LogLines().CreateLogger("dns"),
            EngineLimits.Default with { PendingDnsPerOwner = 64, PendingDnsTotal = 64 }, new PortOwners(_ => 65534u), clock, pool);

        for (int i = 0; i < 63; i++) Ask(hijack, "172.19.0.1", $"j{i:x8}.{i * 7919:x6}.flood.test", (ushort)(40000 + i));
        var flow = new FlowKey(IpProtocol.Udp, NetAddress.Parse("172.19.0.1"), 41000, Resolver, 53);
        DnsQueryOwner? owner = null;
        hijack.OnUdpQuery(flow, Msg.Query("edns.flood.test", edns: true, ednsSize: 4096), DnsKit.Tun, ref owner);
        Assert.Equal(0, hijack.DroppedQueries);
        Assert.Equal(128, pool.Outstanding); // each waiting query: its copy and its answer buffer

        // 63 × (a copy of < 64 bytes + 28 + 512 of answer room) and one 4096-byte EDNS client: ~45 KiB, where 64 × 64 KiB
        // = 4 MiB were held before.
        Assert.True(pool.OutstandingBytes <= 63 * (64 + 1024) + 64 + 8192, $"{pool.OutstandingBytes} bytes held by 64 waiting queries");
        Assert.Contains(pool.Sizes, size => size >= 28 + 4096); // the EDNS client's room: what it said it can take
        hijack.Stop();
    }

    [Fact]
    public async Task ThePendingTable_OfManyOwnersWaitingAtOnce_IsEmptyAndSmallAgain_OnceTheirQueriesTimedOut()
    {
        // 300 addresses (no local socket found: each its own owner) wait for a silent upstream; the server's timeout
        // (fake clock) answers them all. The per-owner table must not keep the arrays it grew to, and the engine's
        // trimmer is told how many still wait each time one finishes.
        await using var upstream = new DnsResponder(_ => null);
        var clock = new FakeClock();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("silent", upstream)], Timeout = TimeSpan.FromSeconds(2) }, clock);
        var tun = new ChannelTun();
        var finished = new List<int>();
        var hijack = new DnsHijack(server, tun, new LogLines().CreateLogger("dns"), EngineLimits.Default with { PendingDnsPerOwner = 4, PendingDnsTotal = 512 },
            new PortOwners(_ => null), clock)
        {
            WaitingQueryFinished = waiting => { lock (finished) finished.Add(waiting); },
        };
        for (int i = 0; i < 300; i++) Ask(hijack, $"172.19.{i / 250}.{1 + i % 250}", $"o{i}.flood.test");
        Assert.Equal(300, hijack.PendingTable.Owners);
        Assert.True(hijack.PendingTable.Capacity >= 300);

        clock.Advance(3);
        for (int i = 0; i < 300; i++) Assert.Equal(2, DnsRcode(tun.Take(TimeSpan.FromSeconds(10)))); // SERVFAIL
        // The callback runs after the owner left the table: wait for both (the last one lagged once in a full run: 299 of 300).
        int Finished() { lock (finished) return finished.Count; }
        for (int i = 0; i < 100 && (hijack.PendingTable.Owners > 0 || Finished() < 300); i++) await Task.Delay(20);
        Assert.Equal(0, hijack.PendingTable.Owners);
        Assert.True(hijack.PendingTable.Capacity <= 17, $"capacity {hijack.PendingTable.Capacity} after every owner's query ended");
        lock (finished)
        {
            Assert.Equal(300, finished.Count);
            Assert.Equal(0, finished.Min());
        }
        hijack.Stop();
    }

    private static void Ask(DnsHijack hijack, string client, string name, ushort port = 40000)
    {
        var key = new FlowKey(IpProtocol.Udp, NetAddress.Parse(client), port, Resolver, 53);
        DnsQueryOwner? owner = null; // a new flow: its session has not looked its owner up yet
        hijack.OnUdpQuery(key, Msg.Query(name), DnsKit.Tun, ref owner);
    }

    /// <summary>A process lookup that knows only each socket's uid, by source port (null: no local socket); counts the lookups.</summary>
    private sealed class PortOwners(Func<ushort, uint?> uidOf) : IProcessLookup
    {
        private int _lookups;

        public int Lookups => Volatile.Read(ref _lookups);

        public ProcessInfo? Find(FlowKey flow) => uidOf(flow.SourcePort) is { } uid ? new ProcessInfo(uid, 0, null, null) : null;

        public bool TryFindSocketUid(FlowKey flow, out uint uid)
        {
            Interlocked.Increment(ref _lookups);
            uid = uidOf(flow.SourcePort) ?? 0;
            return uidOf(flow.SourcePort) is not null;
        }
    }

    /// <summary>A pool that hands out exact-size arrays and counts what is rented and not yet returned.</summary>
    private sealed class CountingPool : System.Buffers.ArrayPool<byte>
    {
        private readonly Dictionary<byte[], int> _out = new(ReferenceEqualityComparer.Instance);

        public int Outstanding
        {
            get { lock (_out) return _out.Count; }
        }

        public long OutstandingBytes
        {
            get { lock (_out) return _out.Keys.Sum(a => (long)a.Length); }
        }

        public int[] Sizes
        {
            get { lock (_out) return _out.Keys.Select(a => a.Length).ToArray(); }
        }

        public override byte[] Rent(int minimumLength)
        {
            byte[] array = new byte[minimumLength];
            lock (_out) _out[array] = minimumLength;
            return array;
        }

        public override void Return(byte[] array, bool clearArray = false)
        {
            lock (_out) _out.Remove(array);
        }
    }

    /// <summary>The RCODE of a DNS answer inside the IPv4/UDP packet written to the TUN.</summary>
    private static int DnsRcode(byte[] packet) => packet[20 + 8 + 3] & 0x0F;
}
