using System.Globalization;
using Sluice.Core.Configuration;
using Sluice.Core.Gate;
using Sluice.Platform.Linux;

namespace Sluice.Hosting.Linux.Doctor;

/// <summary>
/// What `sluice doctor` looks at on this host: what Sluice needs (TUN, nftables, a cgroup it can hold apps
/// by) and what fights it (other VPNs' interfaces, firewall tables and policy rules; systemd-resolved;
/// IPv6 without a TUN address; a clock off by minutes). Each check reads /sys, /proc or asks nft/ip; none changes anything.
/// </summary>
internal static class HostChecks
{
    /// <param name="sysRoot">"/" on the host; tests point it at a fake tree for the file-based checks.</param>
    public static IReadOnlyList<HostCheck> Run(string sysRoot = "/") =>
    [
        Tun(sysRoot),
        Nftables(),
        Cgroups(sysRoot),
        .. OtherVpnInterfaces(sysRoot),
        OtherFirewallTables(),
        OtherPolicyRules(),
        Resolved(sysRoot),
        Ipv6(sysRoot),
        Clock.Check(sysRoot),
    ];

    private static string At(string root, string path) => Path.Combine(root, path.TrimStart('/'));

    internal static HostCheck Tun(string root) =>
        File.Exists(At(root, "/dev/net/tun")) || Directory.Exists(At(root, "/sys/class/misc/tun"))
            ? new("tun", CheckStatus.Ok, "/dev/net/tun is there")
            : new("tun", CheckStatus.Fail, "no /dev/net/tun: the engine cannot make its TUN device",
                "`sudo modprobe tun`; in a container, pass the device (docker: --device /dev/net/tun --cap-add NET_ADMIN)");

    private static HostCheck Nftables()
    {
        var result = Run("nft", ["list", "tables"]);
        if (result is null) return new("nftables", CheckStatus.Fail, "no nft program: the gate and the route table cannot be loaded", "`sudo apt install nftables`");
        if (result.ExitCode == 0) return new("nftables", CheckStatus.Ok, "nft answers; the kernel has nf_tables");
        if (!Environment.IsPrivilegedProcess) return new("nftables", CheckStatus.Note, "nft needs root to list tables; not checked", "run `sudo sluice doctor`");
        return new("nftables", CheckStatus.Fail, $"nft fails: {FirstLine(result.Stderr)}", "`sudo modprobe nf_tables`; a kernel without nf_tables cannot hold the gate");
    }

    internal static HostCheck Cgroups(string root)
    {
        bool unified = File.Exists(At(root, "/sys/fs/cgroup/cgroup.controllers"));
        bool hybrid = Directory.Exists(At(root, "/sys/fs/cgroup/unified"));
        bool netCls = Directory.Exists(At(root, "/sys/fs/cgroup/net_cls")) || Directory.Exists(At(root, "/sys/fs/cgroup/net_cls,net_prio"));
        if (unified) return new("cgroup", CheckStatus.Ok, "cgroup v2 (unified): the gate holds `sluice exec --lane protected` apps by their cgroup path");
        if (netCls) return new("cgroup", CheckStatus.Ok, $"cgroup v1{(hybrid ? " (hybrid)" : "")} with net_cls mounted: protected apps are held by their net_cls class id");
        return new("cgroup", CheckStatus.Warn, $"cgroup v1{(hybrid ? " (hybrid)" : "")} without net_cls: the daemon mounts it when a protected lane needs it (CAP_SYS_ADMIN)",
            "or mount it yourself: `sudo mkdir -p /sys/fs/cgroup/net_cls && sudo mount -t cgroup -o net_cls net_cls /sys/fs/cgroup/net_cls`");
    }

    internal static IEnumerable<HostCheck> OtherVpnInterfaces(string root)
    {
        string net = At(root, "/sys/class/net");
        var found = new List<string>();
        if (Directory.Exists(net))
        {
            foreach (string dir in Directory.GetDirectories(net).OrderBy(d => d, StringComparer.Ordinal))
            {
                string name = Path.GetFileName(dir);
                if (name.StartsWith(ConfigDefaults.TunInterfaceName[..^1], StringComparison.Ordinal)) continue; // sluice0, sluice1...
                string kind = File.Exists(Path.Combine(dir, "tun_flags")) ? "tun/tap"
                    : ReadOrEmpty(Path.Combine(dir, "uevent")).Contains("DEVTYPE=wireguard", StringComparison.Ordinal) ? "wireguard"
                    : "";
                if (kind.Length > 0) found.Add($"{name} ({kind})");
            }
        }
        yield return found.Count == 0
            ? new("other VPNs", CheckStatus.Ok, "no other tun/tap or WireGuard interface")
            : new("other VPNs", CheckStatus.Warn, $"other VPN interfaces: {string.Join(", ", found)}: their routes and rules can take traffic before Sluice's TUN",
                "stop them while Sluice runs (`sudo wg-quick down NAME`, or the other VPN's disconnect), or carve their ranges out with route_exclude_address");
    }

    private static HostCheck OtherFirewallTables()
    {
        var result = Run("nft", ["list", "tables"]);
        if (result is not { ExitCode: 0 }) return new("firewall", CheckStatus.Note, "nft tables not listed (needs root and nft)", "run `sudo sluice doctor`");
        var ours = new[] { $"table inet {GateDefaults.Table}", "table inet sluice_route" };
        var others = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(t => !ours.Contains(t, StringComparer.Ordinal)).Select(t => t.Replace("table ", "", StringComparison.Ordinal)).ToArray();
        return others.Length == 0
            ? new("firewall", CheckStatus.Ok, "no other nftables tables")
            : new("firewall", CheckStatus.Note, $"other nftables tables: {string.Join(", ", others)}: a drop there applies to Sluice's traffic too, and `flush ruleset` (restarting nftables.service) removes the gate",
                "let Sluice's marked traffic (fwmark 0x534c) through them; after a `flush ruleset`, `sudo sluice gate apply -c CONFIG` loads the gate again");
    }

    private static HostCheck OtherPolicyRules()
    {
        var rules = new List<string>();
        foreach (string family in new[] { "-4", "-6" })
        {
            var result = Run("ip", [family, "rule", "show"]);
            if (result is not { ExitCode: 0 }) continue;
            foreach (string rule in result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string priority = rule.Split(':')[0];
                if (priority is "0" or "32766" or "32767") continue;
                if (rule.Contains(GateRanges.Hex(ConfigDefaults.FwMark), StringComparison.Ordinal) || rule.Contains($"lookup {ConfigDefaults.RouteTable.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal)) continue;
                rules.Add($"{family[1..]}: {rule}");
            }
        }
        return rules.Count == 0
            ? new("policy rules", CheckStatus.Ok, "only the kernel's default ip rules (and Sluice's own)")
            : new("policy rules", CheckStatus.Warn, $"other ip rules: {string.Join("; ", rules.Take(4))}{(rules.Count > 4 ? $" (+{rules.Count - 4} more)" : "")}: another VPN's policy routing can take packets before Sluice's table {ConfigDefaults.RouteTable}",
                "stop the VPN that added them (wg-quick adds fwmark rules with table 51820), or give Sluice's rules a lower priority");
    }

    internal static HostCheck Resolved(string root)
    {
        string resolv = ReadOrEmpty(At(root, "/etc/resolv.conf"));
        if (resolv.Contains("nameserver 127.0.0.53", StringComparison.Ordinal))
            return new("dns", CheckStatus.Note, "systemd-resolved answers apps at 127.0.0.53 and asks upstream itself: per-app DNS rules see systemd-resolved as the asking process",
                "keep a `hijack-dns` rule (it catches resolved's upstream queries too), or point resolv.conf at Sluice's DNS listener to tell apps apart");
        return new("dns", CheckStatus.Ok, Directory.Exists(At(root, "/run/systemd/resolve"))
            ? "systemd-resolved runs but resolv.conf does not point at its stub: apps ask the listed servers directly"
            : "no systemd-resolved stub in resolv.conf: apps ask the listed servers directly");
    }

    internal static HostCheck Ipv6(string root)
    {
        string disabled = ReadOrEmpty(At(root, "/proc/sys/net/ipv6/conf/all/disable_ipv6")).Trim();
        if (!File.Exists(At(root, "/proc/net/if_inet6")) || disabled == "1")
            return new("ipv6", CheckStatus.Note, "IPv6 is off on this host", "leave the TUN's IPv6 address out of the config, or keep it with strict_route; both hold");
        var route = Run("ip", ["-6", "route", "show", "default"]);
        bool hasDefault = route is { ExitCode: 0 } && route.Stdout.Trim().Length > 0;
        return hasDefault
            ? new("ipv6", CheckStatus.Ok, "IPv6 is on with a default route: give the TUN an IPv6 address (or strict_route) so IPv6 cannot pass beside it")
            : new("ipv6", CheckStatus.Ok, "IPv6 is on, no IPv6 default route");
    }

    internal static string ReadOrEmpty(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "";

    /// <summary>Runs a program; null when it is not installed.</summary>
    internal static CommandResult? Run(string program, IReadOnlyList<string> args)
    {
        try
        {
            return IpCommand.Run(program, args, null);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
