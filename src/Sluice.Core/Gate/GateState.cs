using System.Globalization;
using System.Text.RegularExpressions;

namespace Sluice.Core.Gate;

/// <summary>
/// What a loaded gate holds, as read back from the table's comment. The kernel ruleset is the
/// single source of truth: <c>gate status</c>, <c>gate disable</c>, <c>exec</c> and <c>kill-apps</c>
/// read this instead of a state file that could disagree with what is loaded.
/// Comment format: <c>sluice-gate v1 mode=protected cgroup=net_cls:0x534c0001:sluice/protected lan=no</c>.
/// </summary>
public sealed record GateState(GateMode Mode, uint FwMark, string TunName, IReadOnlyList<uint> Uids, CgroupMatch? Cgroup, bool AllowLan)
{
    private const string Magic = "sluice-gate v1";

    /// <summary>The bootstrap DNS servers held traffic may reach on port 53, read back from the held chain's rules.</summary>
    public IReadOnlyList<string> BootstrapDns { get; init; } = [];

    /// <summary>nftables keeps at most 128 characters of table comment.</summary>
    public const int MaxLength = 128;

    /// <summary>
    /// The table comment: mode, cgroup, allow_lan. Uids, mark and TUN name are read back from the
    /// rules themselves (<see cref="Parse"/>), so the comment stays within nft's limit.
    /// </summary>
    public static string Encode(GatePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var parts = new List<string> { Magic, "mode=" + GateOptions.ModeName(plan.Options.Mode) };
        switch (plan.Cgroup)
        {
            case CgroupMatch.NetCls n:
                parts.Add($"cgroup=net_cls:{GateRenderer.Hex(n.ClassId)}:{n.Path.Trim('/')}");
                break;
            case CgroupMatch.V2 v:
                parts.Add($"cgroup=v2:{v.Path.Trim('/')}");
                break;
        }
        parts.Add("lan=" + (plan.Options.AllowLan ? "yes" : "no"));
        string text = string.Join(' ', parts);
        if (text.Length > MaxLength)
            throw new ArgumentException($"the gate's state \"{text}\" is longer than the {MaxLength} characters nftables keeps as a table comment: use a shorter cgroup path");
        return text;
    }

    /// <summary>
    /// Reads <c>nft list table inet sluice</c> output. Null when it is not a table Sluice wrote
    /// (no state comment); the caller still knows a table exists.
    /// </summary>
    public static GateState? Parse(string listing)
    {
        ArgumentNullException.ThrowIfNull(listing);
        string? comment = null;
        foreach (string raw in listing.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("chain ", StringComparison.Ordinal)) break;
            if (line.StartsWith("comment \"", StringComparison.Ordinal) && line.EndsWith('"')) comment = line[9..^1];
        }
        if (comment is null || !comment.StartsWith(Magic, StringComparison.Ordinal)) return null;
        var fields = comment[Magic.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        var mode = fields.GetValueOrDefault("mode") switch
        {
            "all" => GateMode.All,
            "protected" => GateMode.Protected,
            _ => GateMode.Off,
        };
        CgroupMatch? cgroup = null;
        if (fields.TryGetValue("cgroup", out var c))
        {
            var cp = c.Split(':', 3);
            if (cp[0] == "net_cls" && cp.Length == 3 && cp[1].StartsWith("0x", StringComparison.Ordinal)
                && uint.TryParse(cp[1].AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint classId))
                cgroup = new CgroupMatch.NetCls(cp[2], classId);
            else if (cp[0] == "v2" && cp.Length >= 2)
                cgroup = new CgroupMatch.V2(c[3..]);
        }

        var mark = Regex.Match(listing, @"meta mark (0x[0-9a-f]+) accept");
        uint fwMark = mark.Success ? uint.Parse(mark.Groups[1].Value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) : 0;
        var tun = Regex.Match(listing, "oifname \"([^\"]+)\" accept");
        var uids = new List<uint>();
        var skuid = Regex.Match(listing, @"meta skuid (\{ [0-9, ]+ \}|[0-9]+) jump held");
        if (skuid.Success)
        {
            foreach (string u in skuid.Groups[1].Value.Trim('{', '}', ' ').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                if (uint.TryParse(u, NumberStyles.None, CultureInfo.InvariantCulture, out uint uid)) uids.Add(uid);
        }
        var dns = Regex.Matches(listing, @"ip6? daddr ([0-9a-fA-F.:]+) meta l4proto \{ tcp, udp \} th dport 53 accept comment ""bootstrap DNS""")
            .Select(m => m.Groups[1].Value).ToArray();
        return new GateState(mode, fwMark, tun.Success ? tun.Groups[1].Value : "", uids, cgroup, fields.GetValueOrDefault("lan") == "yes") { BootstrapDns = dns };
    }

    /// <summary>The state a plan produces once loaded.</summary>
    public static GateState FromPlan(GatePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var o = plan.Options;
        return new GateState(o.Mode, plan.FwMark, plan.TunName, o.Mode == GateMode.Protected ? o.Uids : [], plan.Cgroup, o.AllowLan)
        {
            BootstrapDns = o.BootstrapDns.Select(a => a.ToString()).ToArray(),
        };
    }

    /// <summary>A cgroup path as a process's /proc/PID/cgroup shows it ("/sluice/protected").</summary>
    public string? CgroupPath => Cgroup switch
    {
        CgroupMatch.NetCls n => "/" + n.Path.Trim('/'),
        CgroupMatch.V2 v => "/" + v.Path.Trim('/'),
        _ => null,
    };
}
