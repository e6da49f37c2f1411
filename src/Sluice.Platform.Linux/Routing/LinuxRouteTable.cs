using Sluice.Core.Tun;

namespace Sluice.Platform.Linux;

/// <summary>
/// Applies <see cref="AutoRouteRenderer"/>'s scripts: <c>ip -4/-6 -batch</c> for routes and rules,
/// <c>nft -f</c> for the reply-marking table. <c>netns</c> non-null works inside that namespace (tests);
/// the engine runs inside its namespace already and passes null.
/// </summary>
public sealed class LinuxRouteTable : IRouteTable
{
    /// <summary>Upper bound on duplicate rules RemoveStale deletes per family (crash loops can stack them).</summary>
    private const int MaxStaleRules = 64;

    private readonly string? _netns;

    public LinuxRouteTable(string? netns = null) => _netns = netns;

    private static bool Ipv6Available => Directory.Exists("/proc/sys/net/ipv6");

    /// <summary>
    /// Installs routes, rules and the nftables table. Idempotent: it first deletes exactly what it is
    /// about to add (ip rule add refuses a duplicate, so add alone would fail the second time).
    /// </summary>
    public void Apply(AutoRoutePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        LinuxTunDevice.ValidateName(plan.TunName);
        RunRemove(plan);
        var apply = AutoRouteRenderer.RenderApply(plan);
        if (apply.V4.Length > 0) IpCommand.IpBatch(apply.V4, _netns, family: 4);
        if (apply.V6.Length > 0 && Ipv6Available) IpCommand.IpBatch(apply.V6, _netns, family: 6);
        IpCommand.Nft(AutoRouteRenderer.RenderNftables(plan), _netns);
    }

    /// <summary>Removes what Apply added; pieces already gone (the TUN took its routes with it) are fine.</summary>
    public void Remove(AutoRoutePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        RunRemove(plan);
        IpCommand.Nft(AutoRouteRenderer.RenderNftablesRemove(), _netns, throwOnError: false);
    }

    /// <summary>
    /// Clears what a killed run may have left: every rule at the plan's priority that looks up its
    /// table (both families), every rule at the priorities the route scope owns (P-3..P+1), the table's
    /// routes, the nftables table. Never fails when nothing is there.
    /// </summary>
    public void RemoveStale(AutoRoutePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        string pref = plan.RulePriority.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string table = plan.Table.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (string family in Ipv6Available ? new[] { "-4", "-6" } : ["-4"])
        {
            for (int i = 0; i < MaxStaleRules; i++)
            {
                if (!IpCommand.Ip([family, "rule", "del", "pref", pref, "lookup", table], _netns, throwOnError: false).Succeeded)
                    break;
            }
            foreach (int owned in RouteScopeRules.OwnedPriorities(plan.RulePriority))
            {
                string ownedPref = owned.ToString(System.Globalization.CultureInfo.InvariantCulture);
                for (int i = 0; i < MaxStaleRules; i++)
                {
                    if (!IpCommand.Ip([family, "rule", "del", "pref", ownedPref], _netns, throwOnError: false).Succeeded)
                        break;
                }
            }
            // Fails when the table does not exist: nothing to flush.
            IpCommand.Ip([family, "route", "flush", "table", table], _netns, throwOnError: false);
        }
        IpCommand.Nft(AutoRouteRenderer.RenderNftablesRemove(), _netns, throwOnError: false);
    }

    private void RunRemove(AutoRoutePlan plan)
    {
        var remove = AutoRouteRenderer.RenderRemove(plan);
        if (remove.V4.Length > 0) IpCommand.IpBatch(remove.V4, _netns, family: 4, force: true, throwOnError: false);
        if (remove.V6.Length > 0 && Ipv6Available) IpCommand.IpBatch(remove.V6, _netns, family: 6, force: true, throwOnError: false);
    }
}
