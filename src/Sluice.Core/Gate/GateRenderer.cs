using System.Globalization;
using System.Text;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Gate;

/// <summary>
/// Renders the gate: one nftables table <c>inet sluice</c>, for <c>nft -f</c>. Pure: no I/O, golden-tested.
/// 1. The script opens with <c>table inet sluice {}</c> + <c>delete table inet sluice</c>, so one
///    transaction replaces any previous copy; applying twice changes nothing, and there is no
///    moment in which the table is absent (nft commits the whole file or nothing).
/// 2. <c>output</c>: loopback (by interface type), the TUN (by name) and Sluice's mark pass; the
///    held traffic (everything in mode all, uid/cgroup in mode protected) jumps to <c>held</c>.
///    Every other interface — by type, so a new USB adapter or tether is covered — is outside.
/// 3. <c>held</c>: DHCPv4/v6 client, IPv6 neighbour discovery, allow_lan (private + link-local
///    only), bootstrap DNS; the rest is counted and dropped.
/// 4. <c>forward</c> (mode all only: forwarded packets have no local uid or cgroup): only to the
///    TUN, loopback, or allow_lan ranges.
/// 5. <c>input</c>: packets to the TUN's addresses arriving on any other interface are dropped
///    (CVE-2019-14899: an attacker on the LAN probing the tunnel address).
/// The table carries a comment with the gate's state, so <c>gate status</c> reads it back from the kernel.
/// </summary>
public static class GateRenderer
{
    /// <summary>Private and link-local ranges allow_lan opens: RFC 1918, RFC 3927, RFC 4193, RFC 4291 link-local (+ link-local multicast).</summary>
    public static readonly string[] LanV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "224.0.0.0/24"];

    public static readonly string[] LanV6 = ["fc00::/7", "fe80::/10", "ff02::/16"];

    public static string Render(GatePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var o = plan.Options;
        if (o.Mode == GateMode.Off) return RenderRemove();
        if (plan.FwMark == 0)
            throw new ArgumentException("a gate that passes mark 0 passes every unmarked packet: route.default_mark must not be 0");
        string tun = Quote(plan.TunName);
        string prio = Priority();
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"table inet {GateDefaults.Table} {{}}\n");
        sb.Append(CultureInfo.InvariantCulture, $"delete table inet {GateDefaults.Table}\n");
        sb.Append(CultureInfo.InvariantCulture, $"table inet {GateDefaults.Table} {{\n");
        sb.Append(CultureInfo.InvariantCulture, $"\tcomment {Quote(GateState.Encode(plan))}\n");

        sb.Append("\tchain output {\n");
        sb.Append(CultureInfo.InvariantCulture, $"\t\ttype filter hook output priority {prio}; policy accept;\n");
        sb.Append("\t\toiftype loopback accept\n");
        sb.Append(CultureInfo.InvariantCulture, $"\t\toifname {tun} accept\n");
        sb.Append(CultureInfo.InvariantCulture, $"\t\tmeta mark {Hex(plan.FwMark)} accept comment \"Sluice's own sockets\"\n");
        foreach (string selector in Selectors(plan)) sb.Append("\t\t").Append(selector).Append(selector.Length > 0 ? " " : "").Append("jump held\n");
        sb.Append("\t}\n");

        sb.Append("\tchain held {\n");
        sb.Append("\t\tudp sport 68 udp dport 67 accept comment \"DHCPv4 client\"\n");
        sb.Append("\t\tip6 saddr fe80::/10 udp sport 546 udp dport 547 accept comment \"DHCPv6 client\"\n");
        sb.Append("\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept comment \"IPv6 neighbour discovery\"\n");
        sb.Append("\t\ticmpv6 type mld2-listener-report ip6 daddr ff02::16 accept comment \"MLDv2, so snooping switches pass ND\"\n");
        AppendLan(sb, o.AllowLan);
        foreach (var dns in o.BootstrapDns)
        {
            string family = dns.IsV4 ? "ip" : "ip6";
            sb.Append(CultureInfo.InvariantCulture, $"\t\t{family} daddr {dns} meta l4proto {{ tcp, udp }} th dport 53 accept comment \"bootstrap DNS\"\n");
        }
        sb.Append("\t\tcounter drop comment \"held: outside the tunnel\"\n");
        sb.Append("\t}\n");

        if (o.Mode == GateMode.All)
        {
            sb.Append("\tchain forward {\n");
            sb.Append(CultureInfo.InvariantCulture, $"\t\ttype filter hook forward priority {prio}; policy accept;\n");
            sb.Append("\t\toiftype loopback accept\n");
            sb.Append(CultureInfo.InvariantCulture, $"\t\toifname {tun} accept\n");
            AppendLan(sb, o.AllowLan);
            sb.Append("\t\tcounter drop comment \"forwarded: outside the tunnel\"\n");
            sb.Append("\t}\n");
        }

        var tunV4 = plan.TunAddresses.Where(a => a.IsV4).Select(a => a.Address.ToString()).Distinct().ToArray();
        var tunV6 = plan.TunAddresses.Where(a => !a.IsV4).Select(a => a.Address.ToString()).Distinct().ToArray();
        if (tunV4.Length + tunV6.Length > 0)
        {
            sb.Append("\tchain input {\n");
            sb.Append(CultureInfo.InvariantCulture, $"\t\ttype filter hook input priority {prio}; policy accept;\n");
            sb.Append("\t\tiiftype loopback accept\n");
            sb.Append(CultureInfo.InvariantCulture, $"\t\tiifname {tun} accept\n");
            if (tunV4.Length > 0) sb.Append(CultureInfo.InvariantCulture, $"\t\tip daddr {Set(tunV4)} counter drop comment \"CVE-2019-14899\"\n");
            if (tunV6.Length > 0) sb.Append(CultureInfo.InvariantCulture, $"\t\tip6 daddr {Set(tunV6)} counter drop comment \"CVE-2019-14899\"\n");
            sb.Append("\t}\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>Deletes the table; succeeds whether or not it exists. Only <c>sluice gate disable</c> runs this.</summary>
    public static string RenderRemove() =>
        $"table inet {GateDefaults.Table} {{}}\ndelete table inet {GateDefaults.Table}\n";

    /// <summary>The match expressions whose packets jump to <c>held</c>.</summary>
    internal static IEnumerable<string> Selectors(GatePlan plan)
    {
        if (plan.Options.Mode == GateMode.All)
        {
            yield return ""; // everything that got this far
            yield break;
        }
        var uids = plan.Options.Uids;
        if (uids.Count == 1) yield return $"meta skuid {uids[0].ToString(CultureInfo.InvariantCulture)}";
        else if (uids.Count > 1) yield return $"meta skuid {Set(uids.Select(u => u.ToString(CultureInfo.InvariantCulture)))}";
        switch (plan.Cgroup)
        {
            case CgroupMatch.NetCls netCls:
                yield return $"meta cgroup {Hex(netCls.ClassId)}";
                break;
            case CgroupMatch.V2 v2:
                yield return $"socket cgroupv2 level {v2.Level.ToString(CultureInfo.InvariantCulture)} {Quote(v2.Path.Trim('/'))}";
                break;
        }
    }

    private static void AppendLan(StringBuilder sb, bool allowLan)
    {
        if (!allowLan) return;
        sb.Append(CultureInfo.InvariantCulture, $"\t\tip daddr {Set(LanV4)} accept comment \"allow_lan\"\n");
        sb.Append(CultureInfo.InvariantCulture, $"\t\tip6 daddr {Set(LanV6)} accept comment \"allow_lan\"\n");
    }

    private static string Priority() => GateDefaults.HookPriority < 0
        ? $"filter - {(-GateDefaults.HookPriority).ToString(CultureInfo.InvariantCulture)}"
        : $"filter + {GateDefaults.HookPriority.ToString(CultureInfo.InvariantCulture)}";

    private static string Set(IEnumerable<string> items) => "{ " + string.Join(", ", items) + " }";

    public static string Hex(uint value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>nft strings cannot contain a double quote; names and paths are validated before they get here.</summary>
    private static string Quote(string s)
    {
        if (s.Contains('"') || s.Contains('\n'))
            throw new ArgumentException($"{s} cannot appear in an nftables string (contains a quote or newline)");
        return "\"" + s + "\"";
    }
}
