namespace Sluice.Core.Gate;

/// <summary>
/// What replacing a loaded gate with a new plan would open. A config that arrives through the
/// daemon's API must not open a hole in the gate that holds the host's protected apps: a wider
/// mode, a new interface or mark that passes, a cgroup or uid no longer held, LAN or DNS exceptions.
/// Such a change needs the consent <c>sluice gate disable</c> asks for (<c>sluice gate apply</c>).
/// Pure: compares the loaded state (read back from the kernel) with the plan.
/// </summary>
public static class GateWeakening
{
    /// <summary>One line per hole the plan would open; empty when it holds at least what is loaded.</summary>
    public static IReadOnlyList<string> Find(GateState loaded, GatePlan next)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        ArgumentNullException.ThrowIfNull(next);
        var found = new List<string>();
        var o = next.Options;
        if (loaded.Mode == GateMode.Off)
        {
            // A table inet sluice without Sluice's state comment: replacing it is not Sluice's call.
            found.Add("a table inet sluice that Sluice did not write would be replaced");
            return found;
        }
        if (o.Mode == GateMode.Off)
        {
            found.Add("gate mode off would open the gate");
            return found;
        }
        if (loaded.Mode == GateMode.All && o.Mode != GateMode.All)
            found.Add($"mode {GateOptions.ModeName(o.Mode)} holds only chosen apps, the loaded gate holds every process (mode all)");
        if (loaded.Mode == GateMode.Protected && o.Mode == GateMode.Protected)
        {
            var uids = o.Uids.ToHashSet();
            foreach (uint uid in loaded.Uids.Where(u => !uids.Contains(u)))
                found.Add($"uid {uid} would no longer be held");
            if (loaded.Cgroup is not null && !SameCgroup(loaded.Cgroup, next.Cgroup))
                found.Add($"cgroup {loaded.CgroupPath} would no longer be held");
        }
        if (!string.Equals(loaded.TunName, next.TunName, StringComparison.Ordinal))
            found.Add($"interface \"{next.TunName}\" would pass instead of \"{loaded.TunName}\"");
        if (loaded.FwMark != next.FwMark)
            found.Add($"mark {GateRenderer.Hex(next.FwMark)} would pass instead of {GateRenderer.Hex(loaded.FwMark)}");
        if (o.AllowLan && !loaded.AllowLan)
            found.Add("allow_lan would let held traffic reach private and link-local ranges");
        var dns = loaded.BootstrapDns.ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var server in o.BootstrapDns.Select(a => a.ToString()).Where(s => !dns.Contains(s)))
            found.Add($"bootstrap DNS {server} would be reachable on port 53");
        return found;
    }

    private static bool SameCgroup(CgroupMatch? loaded, CgroupMatch? next) => (loaded, next) switch
    {
        (CgroupMatch.NetCls a, CgroupMatch.NetCls b) => a.ClassId == b.ClassId,
        (CgroupMatch.V2 a, CgroupMatch.V2 b) => a.Path.Trim('/') == b.Path.Trim('/'),
        _ => false,
    };
}
