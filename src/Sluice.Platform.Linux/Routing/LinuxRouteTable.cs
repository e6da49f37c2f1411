using Sluice.Core.Tun;
using Sluice.Platform.Linux.Network;

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
    /// The IPv4 rules, the IPv6 rules and the nftables table are independent: as processes the three run at once
    /// (each is a process start, tens of milliseconds on a busy machine); in process one after another.
    /// </summary>
    public void Apply(AutoRoutePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        LinuxTunDevice.ValidateName(plan.TunName);
        var remove = AutoRouteRenderer.RemoveOperations(plan);
        var apply = AutoRouteRenderer.ApplyOperations(plan);
        string nft = AutoRouteRenderer.RenderNftables(plan);
        AllAtOnce(
            () => ReplaceFamily(remove.V4, apply.V4, 4),
            () => ReplaceFamily(Ipv6Available ? remove.V6 : [], Ipv6Available ? apply.V6 : [], 6),
            () => IpCommand.Nft(nft, _netns));
    }

    /// <summary>Removes what Apply added; pieces already gone (the TUN took its routes with it) are fine.</summary>
    public void Remove(AutoRoutePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var remove = AutoRouteRenderer.RemoveOperations(plan);
        AllAtOnce(
            () => ReplaceFamily(remove.V4, [], 4),
            () => ReplaceFamily(Ipv6Available ? remove.V6 : [], [], 6),
            () => IpCommand.Nft(AutoRouteRenderer.RenderNftablesRemove(), _netns, throwOnError: false));
    }

    /// <summary>
    /// Clears what a killed run may have left: every rule at the plan's priority that looks up its
    /// table (both families), every rule at the priorities the route scope owns (P-3..P+1), the table's
    /// routes, the nftables table. Never fails when nothing is there. One forced batch per family (a delete with
    /// nothing to delete fails and the batch goes on; in process, a delete that failed is not tried again) and the
    /// nft script.
    /// </summary>
    public void RemoveStale(AutoRoutePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        AllAtOnce(
            () => IpCommand.Apply(StaleRemoval(plan, v4: true), _netns, family: 4, force: true, throwOnError: false),
            () =>
            {
                if (Ipv6Available) IpCommand.Apply(StaleRemoval(plan, v4: false), _netns, family: 6, force: true, throwOnError: false);
            },
            () => IpCommand.Nft(AutoRouteRenderer.RenderNftablesRemove(), _netns, throwOnError: false));
    }

    /// <summary>The <c>ip -force -batch</c> text of <see cref="RemoveStale"/> (the same for either family).</summary>
    internal static string RenderStaleRemoval(AutoRoutePlan plan) => NetworkOperation.RenderBatch(StaleRemoval(plan, v4: true));

    /// <summary>
    /// What <see cref="RemoveStale"/> deletes in one family: each stale rule up to <see cref="MaxStaleRules"/> times
    /// (crash loops can stack duplicates), then the table's routes.
    /// </summary>
    internal static IReadOnlyList<NetworkOperation> StaleRemoval(AutoRoutePlan plan, bool v4)
    {
        var operations = new List<NetworkOperation>();
        var tunRule = new RuleOperation(false, v4, new RuleSpec(plan.RulePriority, Lookup: (uint)plan.Table));
        for (int i = 0; i < MaxStaleRules; i++) operations.Add(tunRule);
        foreach (int owned in RouteScopeRules.OwnedPriorities(plan.RulePriority))
        {
            var any = new RuleOperation(false, v4, new RuleSpec(owned));
            for (int i = 0; i < MaxStaleRules; i++) operations.Add(any);
        }
        operations.Add(new RouteFlushOperation(v4, (uint)plan.Table));
        return operations;
    }

    /// <summary>One family: delete what is about to be added (missing pieces are fine), then add it.</summary>
    private void ReplaceFamily(IReadOnlyList<NetworkOperation> remove, IReadOnlyList<NetworkOperation> apply, int family)
    {
        if (remove.Count > 0) IpCommand.Apply(remove, _netns, family: family, force: true, throwOnError: false);
        if (apply.Count > 0) IpCommand.Apply(apply, _netns, family: family);
    }

    /// <summary>
    /// Runs the steps at once, each on its own thread (not the thread pool: a step blocks on a process, and the
    /// process's output is read by pool callbacks), and rethrows the first failure after all have finished;
    /// in process, one after another.
    /// </summary>
    private void AllAtOnce(params Action[] steps)
    {
        Exception? first = null;
        if (_netns is null && !IpCommand.ProgramsOnly)
        {
            // In process each step is a few syscalls: a thread apiece would cost more than it saves. Still every
            // step runs, and the first failure is rethrown after the last.
            foreach (var step in steps)
            {
                try
                {
                    step();
                }
                catch (Exception e)
                {
                    first ??= e;
                }
            }
            if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            return;
        }
        var others = steps.Skip(1).Select(step => Task.Factory.StartNew(step, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        try
        {
            steps[0]();
        }
        catch (Exception e)
        {
            first = e;
        }
        foreach (var task in others)
        {
            try
            {
                task.GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                first ??= e;
            }
        }
        if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
    }
}
