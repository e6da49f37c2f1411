using Sluice.Core.Configuration;

namespace Sluice.Core.Routing;

/// <summary>
/// A run of consecutive rules each of which matches exactly when the flow's process has one of its
/// process_name values, or (a rule of the other kind) one of its process_path values. Names and
/// paths are keys of dictionaries holding the first rule index that names them, so the run costs
/// three hash probes (comm, executable basename, executable path) however many rules it has. The
/// same matching as <see cref="ProcessMatcher"/>: a name matches comm truncated to 15 characters, or
/// the executable's basename in full.
/// </summary>
internal sealed class ProcessBlock : RuleBlock
{
    private static readonly DefaultRuleOptions Bare = new();

    private readonly Dictionary<string, int> _byComm = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _byBasename = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _byBasenameSpan;
    private readonly Dictionary<string, int> _byPath = new(StringComparer.Ordinal);

    private ProcessBlock() => _byBasenameSpan = _byBasename.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// A plain rule (route, reject or hijack-dns; no invert) whose only matcher is process_name or
    /// process_path, not both. Checked by stripping those two and comparing with an empty rule, so a
    /// matcher added to the options later keeps such rules out of a block until it is handled here.
    /// </summary>
    public static bool CanHold(RuleOptions rule) =>
        rule is DefaultRuleOptions d
        && d.Action is RouteAction or RejectAction or HijackDnsAction
        && (d.ProcessName.Count > 0) != (d.ProcessPath.Count > 0)
        && d with { ProcessName = Bare.ProcessName, ProcessPath = Bare.ProcessPath, Action = null } == Bare;

    public static ProcessBlock Build(IReadOnlyList<RuleOptions> rules, int start, int end)
    {
        var block = new ProcessBlock();
        for (int i = start; i < end; i++)
        {
            var d = (DefaultRuleOptions)rules[i];
            foreach (string name in d.ProcessName)
            {
                block._byComm.TryAdd(name.Length > ProcessMatcher.CommLength ? name[..ProcessMatcher.CommLength] : name, i);
                block._byBasename.TryAdd(name, i);
            }
            foreach (string path in d.ProcessPath) block._byPath.TryAdd(path, i);
        }
        return block;
    }

    public override int FirstMatch(FlowContext flow)
    {
        if (flow.Process is not { } process) return -1;
        int min = int.MaxValue;
        if (process.Name is { } comm && _byComm.TryGetValue(comm, out int i)) min = i;
        if (process.Path is { } exe)
        {
            if (_byBasenameSpan.TryGetValue(exe.AsSpan(exe.LastIndexOf('/') + 1), out i)) min = Math.Min(min, i);
            if (_byPath.TryGetValue(exe, out i)) min = Math.Min(min, i);
        }
        return min == int.MaxValue ? -1 : min;
    }
}

/// <summary>A run of rules merged into one lookup that finds the run's first matching rule.</summary>
internal abstract class RuleBlock
{
    /// <summary>The index of the first rule of the run that matches, -1 when none.</summary>
    public abstract int FirstMatch(FlowContext flow);
}
