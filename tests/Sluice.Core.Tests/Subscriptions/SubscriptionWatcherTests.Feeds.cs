using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>Several subscriptions feeding one group beside its own members, and a subscription's name and type filters.</summary>
public sealed partial class SubscriptionWatcherTests
{
    private const string Vless = "vless://6a3c0b8e-1f3b-4d4c-9d55-0e5b6a7c8d9e@192.0.2.9:443?security=tls&sni=example.com#four-vless";

    private OutboundGroup FedGroup(params string[] own)
    {
        var options = new GroupOutboundOptions("selector", "auto", own, null, TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(30), false);
        var owned = own.ToDictionary(t => t, t => (IOutbound)new StubOutbound(t));
        return new OutboundGroup(options, t => owned.GetValueOrDefault(t), _log, _clock);
    }

    private SubscriptionWatcher Feed(OutboundGroup group, string tag, int feed, Func<CancellationToken, Task<string>> fetch, ServerFilter? filter = null) =>
        new(Options with { Tag = tag, CachePath = Path.Combine(_dir, tag + ".txt"), Filter = filter ?? ServerFilter.None }, group, fetch,
            o => new StubOutbound(o.Tag), _log, _clock) { Feed = feed };

    [Fact]
    public async Task TwoSubscriptions_FeedOneGroup_AfterItsOwnMembers_InConfigOrder_WhicheverAnswersFirst()
    {
        var group = FedGroup("direct");
        var first = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var a = Feed(group, "a", 0, _ => first.Task);
        using var b = Feed(group, "b", 1, _ => Task.FromResult("ss://aes-128-gcm:pw@192.0.2.7:8388#seven\nss://aes-128-gcm:pw@192.0.2.1:8388#one\n"));
        Assert.Equal(["direct"], Members(group));

        Assert.True(await b.FetchOnceAsync());
        Assert.Equal(["direct", "seven", "one"], Members(group));

        first.SetResult(TwoServers);
        Assert.True(await a.FetchOnceAsync());
        // b's "one" is shadowed by a's, which comes first; a's servers go before b's although b answered first.
        Assert.Equal(["direct", "one", "two", "seven"], Members(group));
        Assert.Contains("group auto: a fed server named \"one\" is left out", _log.ToString());
    }

    [Fact]
    public async Task Filter_PicksServersByName_InTheFiltersOrder_ExcludeFilterAndTypeLeaveOut()
    {
        var group = FedGroup();
        string body = TwoServers + "ss://aes-128-gcm:pw@192.0.2.3:8388#three\n" + Vless + "\n";
        using var w = Feed(group, "p", 0, _ => Task.FromResult(body), new ServerFilter(["^t", "one|four"], ["^three$"], ["vless"]));

        Assert.True(await w.FetchOnceAsync());

        Assert.Equal(["two", "one"], Members(group));
        Assert.Contains("subscription p: 2 of its 4 servers left out by its filter", _log.ToString());
    }

    [Fact]
    public async Task Override_RenamesBeforeTheFilter_SoAGroupPicksOneProvidersServersByItsPrefix()
    {
        var group = FedGroup();
        string body = TwoServers + "ss://aes-128-gcm:pw@192.0.2.3:8388#three\n";
        using var w = new SubscriptionWatcher(Options with
        {
            Tag = "p", CachePath = Path.Combine(_dir, "p.txt"),
            Override = new ServerOverride("[A] ", null, [new TagReplacement("^t", "T")], "direct", udp: false, tlsInsecure: false),
            Filter = new ServerFilter([@"^\[A\] T"], [], []),
        }, group, _ => Task.FromResult(body), o => new StubOutbound(o.Tag) { Options = o }, _log, _clock);

        Assert.True(await w.FetchOnceAsync());

        Assert.Equal(["[A] Two", "[A] Three"], Members(group));
        var fed = (ShadowsocksOutboundOptions)((StubOutbound)group.Members[0].Outbound).Options!;
        Assert.Equal(("direct", ProxyNetwork.Tcp), (fed.Server.Detour, fed.Network));
    }

    [Fact]
    public async Task Filter_WithALookahead_LeavesOutInfoLines_AsProfilesWriteIt()
    {
        var group = FedGroup();
        string body = "ss://aes-128-gcm:pw@192.0.2.1:8388#HK%2001\nss://aes-128-gcm:pw@192.0.2.2:8388#Expire%202027-01-01\n";
        using var w = Feed(group, "p", 0, _ => Task.FromResult(body), new ServerFilter(["^(?!.*(Expire|Traffic))"], [], []));

        Assert.True(await w.FetchOnceAsync());

        Assert.Equal(["HK 01"], Members(group));
    }

    [Fact]
    public async Task FilterKeepingNone_EmptiesItsFeed_ButAnUnusableBodyKeepsTheLastGoodList()
    {
        var group = FedGroup("direct");
        var bodies = new Queue<string>([TwoServers, "ss://aes-128-gcm:pw@192.0.2.5:8388#other\n", "ss://nonsense\n"]);
        using var w = Feed(group, "p", 0, _ => Task.FromResult(bodies.Dequeue()), new ServerFilter(["one|two"], [], []));

        Assert.True(await w.FetchOnceAsync());
        Assert.Equal(["direct", "one", "two"], Members(group));
        Assert.True(await w.FetchOnceAsync());
        Assert.Equal(["direct"], Members(group));
        Assert.False(await w.FetchOnceAsync());
        Assert.Equal(["direct"], Members(group));
        Assert.Contains("body rejected", w.LastError);
    }
}
