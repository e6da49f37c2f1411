using System.Text;
using Sluice.Core.Configuration;

namespace Sluice.Core.Routing;

/// <summary>Renders a rule as one line: "process_name=[curl] network=[tcp] => reject". Long lists are elided.</summary>
internal static class RuleDescription
{
    private const int MaxValuesShown = 5;

    public static string Describe(RuleOptions rule)
    {
        var sb = new StringBuilder();
        Condition(sb, rule);
        sb.Append(" => ").Append(rule.Action switch
        {
            RouteAction r => r.Outbound,
            RejectAction { Drop: true } => "reject(drop)",
            RejectAction => "reject",
            HijackDnsAction => "hijack-dns",
            RouteOptionsAction o => "route-options(" + string.Join(", ", new[]
            {
                o.OverrideAddress is { } a ? $"override_address={a}" : null,
                o.OverridePort is { } p ? $"override_port={p}" : null,
                o.UdpTimeout is { } t ? $"udp_timeout={GoDuration.Format(t)}" : null,
                o.UdpConnect ? "udp_connect" : null,
            }.Where(x => x is not null)) + ")",
            ResolveAction r => "resolve(" + string.Join(", ", new[]
            {
                r.Server is { } server ? $"server={server}" : null,
                r.Strategy is { } strategy ? $"strategy={strategy}" : null,
            }.Where(x => x is not null)) + ")",
            SniffAction s => $"sniff({(s.Sniffers.Count == 0 ? "all" : string.Join(",", s.Sniffers))}, {GoDuration.Format(s.Timeout)})",
            _ => "?",
        });
        return sb.ToString();
    }

    private static void Condition(StringBuilder sb, RuleOptions rule)
    {
        if (rule.Invert) sb.Append("not ");
        if (rule is LogicalRuleOptions l)
        {
            sb.Append(l.Mode == LogicalMode.And ? "and(" : "or(");
            for (int i = 0; i < l.Rules.Count; i++)
            {
                if (i > 0) sb.Append("; ");
                Condition(sb, l.Rules[i]);
            }
            sb.Append(')');
            return;
        }
        var d = (DefaultRuleOptions)rule;
        int start = sb.Length;
        List(sb, "inbound", d.Inbound);
        List(sb, "network", d.Network);
        List(sb, "protocol", d.Protocol);
        List(sb, "domain", d.Domain);
        List(sb, "domain_suffix", d.DomainSuffix);
        List(sb, "domain_keyword", d.DomainKeyword);
        List(sb, "domain_regex", d.DomainRegex);
        List(sb, "ip_cidr", d.IpCidr);
        if (d.IpIsPrivate) Separator(sb).Append("ip_is_private");
        if (d.IpVersion is { } version) Separator(sb).Append("ip_version=").Append(version);
        List(sb, "source_ip_cidr", d.SourceIpCidr);
        if (d.SourceIpIsPrivate) Separator(sb).Append("source_ip_is_private");
        List(sb, "port", d.Port);
        List(sb, "port_range", d.PortRange);
        List(sb, "source_port", d.SourcePort);
        List(sb, "source_port_range", d.SourcePortRange);
        List(sb, "process_name", d.ProcessName);
        List(sb, "process_path", d.ProcessPath);
        List(sb, "process_path_regex", d.ProcessPathRegex);
        List(sb, "user_id", d.UserId);
        List(sb, "user", d.User);
        List(sb, d.RuleSetIpCidrMatchSource ? "rule_set(source)" : "rule_set", d.RuleSet);
        if (d.ClashMode is { } mode) Separator(sb).Append("clash_mode=").Append(mode);
        if (sb.Length == start) sb.Append("any");

        static void List<T>(StringBuilder sb, string name, IReadOnlyList<T> values)
        {
            if (values.Count == 0) return;
            Separator(sb).Append(name).Append("=[");
            for (int i = 0; i < values.Count && i < MaxValuesShown; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append(values[i]);
            }
            if (values.Count > MaxValuesShown) sb.Append(",… +").Append(values.Count - MaxValuesShown);
            sb.Append(']');
        }

        static StringBuilder Separator(StringBuilder sb) =>
            sb.Length > 0 && sb[^1] is not ('(' or ' ') ? sb.Append(' ') : sb;
    }
}
