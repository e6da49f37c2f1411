using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>Rules decide per process, per user and per address, with real processes in the testbed.</summary>
public sealed class PerAppRoutingTests : IDisposable
{
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(30);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Fact]
    public void SameDestination_DifferentProcessNames_OnePassesOneIsResetFast()
    {
        string allowed = _testbed.CopyProgram("curl", "curl-allowed");
        string blocked = _testbed.CopyProgram("curl", "curl-blocked");
        var engine = _testbed.StartEngine(EngineConfigs.Tun("""{"process_name": "curl-blocked", "action": "reject"}""")).WaitStarted();

        var pass = _testbed.RunInClient(Curl, allowed, "-sS", "--max-time", "10", EngineConfigs.ServerUrl());
        var refused = _testbed.RunInClient(Curl, blocked, "-sS", "--max-time", "10", EngineConfigs.ServerUrl());

        Assert.True(pass.Ok, pass + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.ClientV4, pass.Stdout.Trim());
        // curl exit 7: "couldn't connect" — the SYN was answered with a RST, not left to time out.
        Assert.Equal(7, refused.ExitCode);
        Assert.True(refused.Elapsed < TimeSpan.FromSeconds(2), $"rejection took {refused.Elapsed}");
        Assert.True(engine.WaitFor("curl-blocked", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void UserIdRule_RejectsOnlyThatUser()
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun("""{"user_id": 65534, "action": "reject"}""")).WaitStarted();

        var asNobody = _testbed.RunInClient(Curl, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());
        var asRoot = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());

        Assert.Equal(7, asNobody.ExitCode);
        Assert.True(asRoot.Ok, asRoot + "\n" + engine.Log);
    }

    [Fact]
    public void IpCidrRule_BlocksOneServer_OtherServerPasses()
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun($$"""{"ip_cidr": ["{{NamespaceTestbed.ServerV4}}/32"], "outbound": "block"}""")).WaitStarted();

        var toServer = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());
        var toRouter = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", $"http://{NamespaceTestbed.RouterV4}:{NamespaceTestbed.HttpPort}/whoami");

        Assert.Equal(7, toServer.ExitCode);
        Assert.True(toRouter.Ok, toRouter + "\n" + engine.Log);
    }

    [Fact]
    public void SourceIpCidrRule_MatchesTheAppsBoundSource()
    {
        // An app bound to the physical address still enters the TUN (all traffic is captured);
        // the rule on its source address rejects it, while the default source passes.
        var engine = _testbed.StartEngine(EngineConfigs.Tun($$"""{"source_ip_cidr": "{{NamespaceTestbed.ClientV4}}/32", "action": "reject"}""")).WaitStarted();

        var bound = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", "--interface", NamespaceTestbed.ClientV4, EngineConfigs.ServerUrl());
        var unbound = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());

        Assert.Equal(7, bound.ExitCode);
        Assert.True(unbound.Ok, unbound + "\n" + engine.Log);
    }

    [Fact]
    public void RouteExcludeAddress_KeepsThatRangeOutOfTheTun()
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun(
            """{"network": "tcp", "action": "reject"}""",
            $$""", "route_exclude_address": ["{{NamespaceTestbed.RouterV4}}/32"]""")).WaitStarted();

        var excluded = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", $"http://{NamespaceTestbed.RouterV4}:{NamespaceTestbed.HttpPort}/whoami");
        var captured = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());

        Assert.True(excluded.Ok, excluded + "\n" + engine.Log);
        Assert.Equal(7, captured.ExitCode);
    }

    public void Dispose() => _testbed.Dispose();
}
