using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Routing;
using Sluice.Packets;

namespace Sluice.Core.Tests.Routing;

/// <summary>Consecutive process rules merged into one dictionary lookup decide exactly as rule by rule.</summary>
public class ProcessBlockTests
{
    private const string Rules = """
        [ { "process_name": "app0", "outbound": "proxy" },
          { "process_path": "/opt/one/bin/tool", "outbound": "block" },
          { "process_name": ["chromium-browser-beta", "app2"], "outbound": "proxy" },
          { "process_name": "app3", "outbound": "block" },
          { "process_path": ["/usr/bin/app0"], "outbound": "block" },
          { "process_name": "tool", "outbound": "proxy" },
          { "process_name": "app6", "outbound": "proxy" },
          { "process_name": "app7", "outbound": "block" },
          { "process_name": "app8", "outbound": "proxy" },
          { "process_name": "app9", "outbound": "block" },
          { "process_name": "app0", "process_path": "/x/app0", "outbound": "block" },
          { "port": 443, "outbound": "proxy" } ]
        """;

    public static TheoryData<string?, string?> Processes => new()
    {
        { "app0", "/usr/bin/app0" },          // rule 0 by comm, before rule 4 by path
        { "other", "/usr/bin/app0" },         // basename app0 → rule 0
        { "tool", "/opt/one/bin/tool" },      // rule 1 by path, before rule 5 by name
        { "tool", "/usr/bin/tool" },          // rule 5
        { "chromium-browse", "/usr/lib/chromium/chromium-browser-beta" }, // truncated comm → rule 2
        { "chromium-browse", null },          // comm alone still matches the truncated name
        { "app9", null },
        { null, "/srv/app8" },
        { "nothing", "/usr/bin/nothing" },    // falls past the block to the port rule
        { null, null },
    };

    [Theory]
    [MemberData(nameof(Processes))]
    public void MergedRun_DecidesAsRuleByRule(string? comm, string? path)
    {
        var config = ConfigLoader.Load($$"""
            { "outbounds": [ { "type": "direct", "tag": "direct" }, { "type": "direct", "tag": "proxy" }, { "type": "block", "tag": "block" } ],
              "route": { "rules": {{Rules}}, "final": "direct" } }
            """);
        var router = Router.Compile(config.Route, ["direct", "proxy", "block"], "direct");
        var process = comm is null && path is null ? null : new ProcessInfo(1000, 5, comm, path);
        var flow = new FlowContext(new FlowKey(IpProtocol.Tcp, NetAddress.Parse("10.0.0.2"), 40000, NetAddress.Parse("192.0.2.1"), 443), "tun-in", _ => process);

        int expected = -1;
        for (int i = 0; i < config.Route.Rules.Count && expected < 0; i++)
        {
            var one = new FlowContext(flow.Key, "tun-in", _ => process);
            if (CompiledRule.Compile(config.Route.Rules[i]).Matches(one)) expected = i;
        }
        Assert.Equal(expected, router.Decide(flow).RuleIndex);
    }

    [Fact]
    public void OnlyPlainSingleKindProcessRules_AreMerged()
    {
        var config = ConfigLoader.Load("""
            { "route": { "rules": [
                { "process_name": "a", "outbound": "direct" },
                { "process_path": "/b", "outbound": "direct" },
                { "process_name": "a", "process_path": "/b", "outbound": "direct" },
                { "process_name": "a", "network": "tcp", "outbound": "direct" },
                { "process_name": "a", "invert": true, "outbound": "direct" },
                { "process_name": "a", "action": "sniff" } ] } }
            """);
        Assert.Equal([true, true, false, false, false, false], config.Route.Rules.Select(ProcessBlock.CanHold));
    }
}
