using Sluice.Core.Configuration;

namespace Sluice.Core.Routing;

/// <summary>
/// A run of consecutive rules each of which matches exactly when the destination IP is in its
/// ip_cidr or the domain is in its domain/domain_suffix. Every prefix and name is stored with its
/// rule's index; the first matching rule of the run is the smallest index found on the address's trie
/// path and the domain's suffixes. Exact first-match semantics, one lookup for the whole run.
/// </summary>
internal sealed class DestinationBlock : RuleBlock
{
    private readonly PrefixTrie _cidr = new();
    private readonly DomainIndex _domains = new();

    private DestinationBlock()
    {
    }

    public static bool CanHold(RuleOptions rule) =>
        rule is DefaultRuleOptions d
        && !d.Invert
        && d.Action is RouteAction or RejectAction or HijackDnsAction
        && (d.IpCidr.Count > 0 || d.Domain.Count > 0 || d.DomainSuffix.Count > 0)
        && d.Inbound.Count == 0 && d.Network.Count == 0 && d.Protocol.Count == 0
        && d.DomainKeyword.Count == 0 && d.DomainRegex.Count == 0 && !d.IpIsPrivate
        && d.SourceIpCidr.Count == 0 && d.Port.Count == 0 && d.PortRange.Count == 0
        && d.SourcePort.Count == 0 && d.SourcePortRange.Count == 0
        && d.ProcessName.Count == 0 && d.ProcessPath.Count == 0 && d.ProcessPathRegex.Count == 0 && d.UserId.Count == 0
        && d.User.Count == 0 && d.IpVersion is null && !d.SourceIpIsPrivate
        && d.RuleSet.Count == 0 && d.ClashMode is null;

    public static DestinationBlock Build(IReadOnlyList<RuleOptions> rules, int start, int end)
    {
        var block = new DestinationBlock();
        for (int i = start; i < end; i++)
        {
            var d = (DefaultRuleOptions)rules[i];
            foreach (var p in d.IpCidr) block._cidr.Add(p, i);
            foreach (string s in d.Domain) block._domains.AddExact(s, i);
            foreach (string s in d.DomainSuffix) block._domains.AddSuffix(s, i);
        }
        return block;
    }

    /// <summary>The index of the first rule of the run that matches, -1 when none.</summary>
    public override int FirstMatch(FlowContext flow)
    {
        int min = int.MaxValue;
        if (_cidr.Count > 0)
        {
            if (flow.ResolvedAddresses is { } resolved)
            {
                for (int i = 0; i < resolved.Count; i++) min = Math.Min(min, _cidr.MinValue(resolved[i]));
            }
            else
            {
                min = _cidr.MinValue(flow.KeyRef.Destination);
            }
        }
        if (flow.Domain is { Length: > 0 } domain && !_domains.IsEmpty) min = Math.Min(min, _domains.MinValue(domain));
        return min == int.MaxValue ? -1 : min;
    }
}
