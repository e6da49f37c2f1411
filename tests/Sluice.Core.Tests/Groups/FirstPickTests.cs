using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;
using Sluice.Packets;
using Sluice.Tests;

namespace Sluice.Core.Tests.Groups;

/// <summary>
/// A flow that reaches a urltest/fallback group before its first probe round finished (a fake-IP app connects the
/// moment its lookup is answered): it waits for the round, which ends at <see cref="OutboundGroup.MaxProbeTimeout"/> on
/// the group's clock even when a probe overruns its own timeout; members that did not answer by then are down.
/// </summary>
public sealed class FirstPickTests
{
    /// <summary>A fake-IP flow: the address stands for the name the outbound dials.</summary>
    private static readonly Destination FakeIpFlow = new(NetAddress.FromV4(0xC6120005), 443, "app.example");

    private readonly FakeClock _clock = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<TimeSpan?>> _probes = new();
    private readonly ConcurrentDictionary<string, int> _dials = new();

    private OutboundGroup Group(string type, params string[] tags)
    {
        foreach (string t in tags) _probes[t] = new TaskCompletionSource<TimeSpan?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var members = tags.Select(t => (IOutbound)new CountingOutbound(t, _dials)).ToDictionary(o => o.Tag);
        var options = new GroupOutboundOptions(type, "auto", tags, null, TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(30), false);
        // Each probe answers when the test says so, and ignores its timeout (as a probe stuck in a resolver would).
        return new OutboundGroup(options, t => members.GetValueOrDefault(t), NullLogger.Instance, _clock, (o, _, _) => new ValueTask<TimeSpan?>(_probes[o.Tag].Task));
    }

    private static void Settles(Task task)
    {
        if (!task.Wait(TimeSpan.FromSeconds(5))) Assert.Fail("the flow's dial did not finish");
    }

    private static void StillWaiting(Task task)
    {
        Thread.Sleep(100);
        Assert.False(task.IsCompleted, "the flow did not wait for the first probe round: " + task.Exception?.GetBaseException().Message);
    }

    [Fact]
    public void UrlTest_FlowBeforeTheFirstRound_WaitsForIt_AndTakesTheFastestMember()
    {
        using var group = Group("urltest", "a", "b");

        var dial = group.DialTcpAsync(FakeIpFlow, default).AsTask();
        StillWaiting(dial);
        _probes["a"].SetResult(TimeSpan.FromMilliseconds(300));
        _probes["b"].SetResult(TimeSpan.FromMilliseconds(20));
        Settles(dial);

        Assert.Equal(["b"], _dials.Keys);
    }

    [Theory]
    [InlineData("urltest")]
    [InlineData("fallback")]
    public void ProbesThatNeverAnswer_EndTheRoundAtTheProbeBound_AndTheFlowFailsNamingEachMember(string type)
    {
        using var group = Group(type, "a", "b");

        var dial = group.DialTcpAsync(FakeIpFlow, default).AsTask();
        StillWaiting(dial);
        _clock.Advance(OutboundGroup.MaxProbeTimeout - TimeSpan.FromMilliseconds(1));
        StillWaiting(dial);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        if (!((IAsyncResult)dial).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(5))) Assert.Fail("the flow still waits after the round's bound");

        var error = Assert.IsType<OutboundException>(dial.Exception?.GetBaseException());
        Assert.Contains("a: no answer to the probe within 5 s", error.Message);
        Assert.Contains("b: no answer to the probe within 5 s", error.Message);
        Assert.Empty(_dials); // nothing was sent through a member that never answered
    }

    [Fact]
    public void UrlTest_RoundHalfDoneAtTheBound_TakesTheMemberMeasuredSoFar()
    {
        using var group = Group("urltest", "a", "b");

        var dial = group.DialTcpAsync(FakeIpFlow, default).AsTask();
        _probes["b"].SetResult(TimeSpan.FromMilliseconds(40)); // "a" never answers
        StillWaiting(dial);
        _clock.Advance(OutboundGroup.MaxProbeTimeout);
        Settles(dial);

        Assert.Equal(["b"], _dials.Keys);
        // A second flow finds the pick made and does not wait.
        var second = group.DialTcpAsync(FakeIpFlow, default).AsTask();
        Settles(second);
        Assert.Equal(2, _dials["b"]);
    }

    private sealed class CountingOutbound(string tag, ConcurrentDictionary<string, int> dials) : IOutbound
    {
        public string Tag => tag;
        public string Type => "stub";

        public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
        {
            dials.AddOrUpdate(tag, 1, (_, n) => n + 1);
            return ValueTask.FromResult<Stream>(new MemoryStream());
        }

        public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) => throw new NotSupportedException();
        public void Dispose() { }
    }
}
