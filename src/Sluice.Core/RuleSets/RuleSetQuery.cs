using Sluice.Core.Routing;
using Sluice.Packets;

namespace Sluice.Core.RuleSets;

/// <summary>Asks a rule set which rule matches a name or an address, as a route rule would (`sluice rule-set match`).</summary>
public static class RuleSetQuery
{
    /// <summary>The index of the first rule matching <paramref name="target"/> (an IP address or a domain), -1 when none does.</summary>
    /// <exception cref="RuleSetFormatException">The content cannot be compiled.</exception>
    public static int FirstMatch(RuleSetContent content, string target)
    {
        var handle = new RuleSetHandle("query", RuleSetUsage.Route);
        handle.Publish(content, DateTimeOffset.UnixEpoch);
        bool isAddress = NetAddress.TryParse(target, out var address);
        // An unspecified source and port: rules on those never match a bare name or address.
        var key = new FlowKey(IpProtocol.Tcp, isAddress && !address.IsV4 ? NetAddress.Parse("::") : NetAddress.FromV4(0), 0,
            isAddress ? address : NetAddress.FromV4(0), 0);
        var flow = new FlowContext(key, "", null) { Domain = isAddress ? null : target.TrimEnd('.').ToLowerInvariant() };
        return handle.FirstMatch(flow);
    }
}
