using System.Text;
using System.Text.Json;
using Sluice.Core.Configuration;

namespace Sluice.Core.RuleSets;

/// <summary>
/// Writes a rule set as JSON source (what `sluice rule-set decompile` prints): fields in sing-box's
/// order, a one-element list as a bare value (as sing-box's Listable does), indented by two spaces.
/// </summary>
public static class SourceRuleSetWriter
{
    public static string Write(RuleSetContent content)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", content.Version);
            w.WriteStartArray("rules");
            foreach (var rule in content.Rules) WriteRule(w, rule);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>One rule as compact JSON (`sluice rule-set match` prints the rule that matched).</summary>
    public static string WriteRule(HeadlessRule rule)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            WriteRule(w, rule);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteRule(Utf8JsonWriter w, HeadlessRule rule)
    {
        w.WriteStartObject();
        if (rule is LogicalHeadlessRule l)
        {
            w.WriteString("type", "logical");
            w.WriteString("mode", l.Mode == LogicalMode.And ? "and" : "or");
            w.WriteStartArray("rules");
            foreach (var sub in l.Rules) WriteRule(w, sub);
            w.WriteEndArray();
        }
        else if (rule is DefaultHeadlessRule d)
        {
            List(w, "query_type", d.QueryType, (w, t) =>
            {
                if (Dns.DnsType.NameOf(t) is { } name) w.WriteStringValue(name);
                else w.WriteNumberValue(t);
            });
            Strings(w, "network", d.Network);
            Strings(w, "domain", d.Domain);
            Strings(w, "domain_suffix", d.DomainSuffix);
            Strings(w, "domain_keyword", d.DomainKeyword);
            Strings(w, "domain_regex", d.DomainRegex);
            List(w, "source_ip_cidr", d.SourceIpCidr, (w, p) => w.WriteStringValue(p.ToString()));
            List(w, "ip_cidr", d.IpCidr, (w, p) => w.WriteStringValue(p.ToString()));
            List(w, "source_port", d.SourcePort, (w, p) => w.WriteNumberValue(p));
            Strings(w, "source_port_range", d.SourcePortRange);
            List(w, "port", d.Port, (w, p) => w.WriteNumberValue(p));
            Strings(w, "port_range", d.PortRange);
            Strings(w, "process_name", d.ProcessName);
            Strings(w, "process_path", d.ProcessPath);
            Strings(w, "process_path_regex", d.ProcessPathRegex);
            Strings(w, "package_name", d.PackageName);
            List(w, "network_type", d.NetworkType, (w, t) => w.WriteStringValue(SourceRuleSet.NetworkTypeName(t)));
            if (d.NetworkIsExpensive) w.WriteBoolean("network_is_expensive", true);
            if (d.NetworkIsConstrained) w.WriteBoolean("network_is_constrained", true);
            Strings(w, "wifi_ssid", d.WifiSsid);
            Strings(w, "wifi_bssid", d.WifiBssid);
        }
        if (rule.Invert) w.WriteBoolean("invert", true);
        w.WriteEndObject();
    }

    private static void Strings(Utf8JsonWriter w, string name, IReadOnlyList<string> values) => List(w, name, values, (w, s) => w.WriteStringValue(s));

    private static void List<T>(Utf8JsonWriter w, string name, IReadOnlyList<T> values, Action<Utf8JsonWriter, T> write)
    {
        if (values.Count == 0) return;
        w.WritePropertyName(name);
        if (values.Count == 1)
        {
            write(w, values[0]);
            return;
        }
        w.WriteStartArray();
        foreach (var v in values) write(w, v);
        w.WriteEndArray();
    }
}
