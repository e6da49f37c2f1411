using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>route-options override_address / override_port: the app connects to A, the engine dials B.</summary>
public sealed class RouteOptionsTests : IDisposable
{
    /// <summary>TEST-NET-1: nothing in the testbed answers there, so only an override can reach a server.</summary>
    private const string Nowhere = "192.0.2.99";
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(40);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Fact]
    public void OverrideAddressAndPort_TheServerAtBAnswers_AnAppThatConnectedToA()
    {
        string rules = $$"""
            {"ip_cidr": "{{Nowhere}}/32", "action": "route-options", "override_address": "{{NamespaceTestbed.ServerV4}}", "override_port": {{NamespaceTestbed.HttpPort}}},
            {"ip_cidr": "{{Nowhere}}/32", "outbound": "direct"}
            """;
        var engine = _testbed.StartEngine(EngineConfigs.Tun(rules, final: "block")).WaitStarted();

        // The app asks for A:80; the server at B:8080 answers with the address it saw (the client's, by the direct lane).
        var result = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "15", $"http://{Nowhere}/whoami");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.ClientV4, result.Stdout.Trim());
        Assert.True(engine.WaitFor($"{Nowhere}:80", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.Contains(engine.Lines, l => l.Contains($"{Nowhere}:80", StringComparison.Ordinal) && l.Contains("=> direct", StringComparison.Ordinal));
    }

    [Fact]
    public void WithoutTheRouteOptionsRule_TheSameAppReachesNothing()
    {
        // Control: the same config minus the override; A is nowhere, so the connection fails.
        var engine = _testbed.StartEngine(EngineConfigs.Tun($$"""{"ip_cidr": "{{Nowhere}}/32", "outbound": "direct"}""", final: "block")).WaitStarted();

        var result = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "5", $"http://{Nowhere}/whoami");

        Assert.False(result.Ok, "reached something at " + Nowhere + " without an override: " + result);
        Assert.True(engine.WaitFor($"{Nowhere}:80", TimeSpan.FromSeconds(5)), engine.Log);
    }

    public void Dispose() => _testbed.Dispose();
}
