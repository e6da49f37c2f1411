using Sluice.Core.Configuration;

namespace Sluice.Core.Routing;

/// <summary>
/// route.rules compiled once per config into an immutable structure; first match wins.
/// Runs of consecutive "destination-only" rules (only ip_cidr / domain / domain_suffix, no invert, not
/// sniff) are merged into one <see cref="DestinationBlock"/>: one trie walk and one hash probe per
/// label find the first matching rule of the run, so 10,000 single-CIDR rules cost what one does.
/// Runs of consecutive process-only rules (process_name or process_path) become a <see cref="ProcessBlock"/>:
/// three hash probes for the run. Deciding a flow does not allocate (the lazy process lookup aside).
/// Each rule counts the decisions it made (with the time of the last), and a rule can be switched off until the next
/// reload (the Clash API's PATCH /rules/disable); while any is off, runs are walked rule by rule, since a block only
/// finds the first rule of its run that matches.
/// </summary>
public sealed class Router
{
    /// <summary>Runs shorter than this are evaluated rule by rule; a block only pays off on long runs.</summary>
    private const int MinBlockLength = 8;

    private readonly Entry[] _entries;
    private readonly Step[] _steps;
    private readonly int[] _stepOfRule;
    private readonly string _final;
    private readonly string[] _descriptions;
    private readonly long[] _hits;
    private readonly long[] _lastHitTicks; // UTC ticks; 0 = never
    private readonly TimeProvider _time;
    private readonly Lock _switching = new();
    private bool[]? _off; // null while every rule is on; replaced whole, never changed in place

    private Router(Entry[] entries, Step[] steps, int[] stepOfRule, string final, string[] descriptions, TimeProvider time)
    {
        _entries = entries;
        _hits = new long[entries.Length];
        _lastHitTicks = new long[entries.Length];
        _time = time;
        _steps = steps;
        _stepOfRule = stepOfRule;
        _final = final;
        _descriptions = descriptions;
        UsesProcess = entries.Any(e => e.Rule.UsesProcess);
        UsesDomain = entries.Any(e => e.Rule.UsesDomain);
    }

    /// <summary>True when some rule matches on process_name/path/uid: the engine then resolves processes.</summary>
    public bool UsesProcess { get; }

    /// <summary>True when some rule matches on a domain: the engine then keeps domains (sniff, DNS map).</summary>
    public bool UsesDomain { get; }

    /// <param name="defaultOutbound">route.final, else the first outbound's tag.</param>
    /// <exception cref="ArgumentException">A rule has no action or names an outbound not in <paramref name="outboundTags"/>.</exception>
    public static Router Compile(RouteOptions route, IReadOnlyList<string> outboundTags, string defaultOutbound) =>
        Compile(route, outboundTags, defaultOutbound, RuleScope.Empty);

    /// <param name="scope">The rule sets rules name and the Clash mode clash_mode items read.</param>
    /// <param name="time">The clock of the rules' last-hit times; null = the system's.</param>
    public static Router Compile(RouteOptions route, IReadOnlyList<string> outboundTags, string defaultOutbound, RuleScope scope, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(scope);
        var tags = outboundTags.ToHashSet(StringComparer.Ordinal);
        if (!tags.Contains(defaultOutbound))
            throw new ArgumentException($"the final outbound \"{defaultOutbound}\" is not among the outbounds ({string.Join(", ", outboundTags)})", nameof(defaultOutbound));

        var entries = new Entry[route.Rules.Count];
        for (int i = 0; i < entries.Length; i++)
        {
            var rule = route.Rules[i];
            if (rule.Action is RouteAction { Outbound: var o } && !tags.Contains(o))
                throw new ArgumentException($"route.rules[{i}] routes to unknown outbound \"{o}\"", nameof(route));
            entries[i] = rule.Action switch
            {
                RouteAction r => new Entry(CompiledRule.Compile(rule, scope), Verdict.Route, r.Outbound, TimeSpan.Zero, []),
                RejectAction r => new Entry(CompiledRule.Compile(rule, scope), r.Drop ? Verdict.Drop : Verdict.Reject, null, TimeSpan.Zero, []),
                HijackDnsAction => new Entry(CompiledRule.Compile(rule, scope), Verdict.HijackDns, null, TimeSpan.Zero, []),
                SniffAction s => new Entry(CompiledRule.Compile(rule, scope), Verdict.Sniff, null, s.Timeout, s.Sniffers.ToArray()),
                RouteOptionsAction ro => new Entry(CompiledRule.Compile(rule, scope), Verdict.Route, null, TimeSpan.Zero, []) { Options = ro },
                ResolveAction ra => new Entry(CompiledRule.Compile(rule, scope), Verdict.Resolve, null, TimeSpan.Zero, []) { Resolve = ra },
                _ => throw new ArgumentException($"route.rules[{i}] has no action", nameof(route)),
            };
        }

        var steps = new List<Step>();
        var stepOfRule = new int[entries.Length];
        for (int i = 0; i < entries.Length;)
        {
            int end = i;
            while (end < entries.Length && DestinationBlock.CanHold(route.Rules[end])) end++;
            int processEnd = i;
            while (processEnd < entries.Length && ProcessBlock.CanHold(route.Rules[processEnd])) processEnd++;
            if (end - i >= MinBlockLength)
            {
                Array.Fill(stepOfRule, steps.Count, i, end - i);
                steps.Add(new Step(i, end, DestinationBlock.Build(route.Rules, i, end)));
                i = end;
            }
            else if (processEnd - i >= MinBlockLength)
            {
                Array.Fill(stepOfRule, steps.Count, i, processEnd - i);
                steps.Add(new Step(i, processEnd, ProcessBlock.Build(route.Rules, i, processEnd)));
                i = processEnd;
            }
            else
            {
                stepOfRule[i] = steps.Count;
                steps.Add(new Step(i, i + 1, null));
                i++;
            }
        }

        var descriptions = route.Rules.Select(RuleDescription.Describe).ToArray();
        return new Router(entries, steps.ToArray(), stepOfRule, defaultOutbound, descriptions, time ?? TimeProvider.System);
    }

    /// <summary>
    /// The first rule at or after <paramref name="startAt"/> that matches decides; a matching
    /// route-options rule only sets options on the flow and matching goes on. A sniff rule matches
    /// once per flow: it sets <see cref="FlowContext.Sniffed"/>, and sniff rules are skipped for sniffed flows.
    /// No match routes to the final outbound with RuleIndex -1.
    /// </summary>
    public RouteDecision Decide(FlowContext flow, int startAt = 0)
    {
        ArgumentNullException.ThrowIfNull(flow);
        if (startAt < 0) startAt = 0;
        if (startAt < _entries.Length)
        {
            var steps = _steps;
            var off = Volatile.Read(ref _off);
            for (int s = _stepOfRule[startAt]; s < steps.Length; s++)
            {
                ref readonly var step = ref steps[s];
                if (step.Block is { } block && startAt <= step.Start && off is null)
                {
                    int hit = block.FirstMatch(flow);
                    if (hit >= 0) return Decision(hit);
                    continue;
                }
                for (int i = Math.Max(step.Start, startAt); i < step.End; i++)
                {
                    if (off is not null && off[i]) continue;
                    var entry = _entries[i];
                    if (entry.Verdict == Verdict.Sniff && flow.Sniffed) continue;
                    // sing-box resolves only a destination that is a name; an address has nothing to look up.
                    if (entry.Verdict == Verdict.Resolve && (!flow.DestinationIsName || flow.Domain is null)) continue;
                    if (!entry.Rule.Matches(flow)) continue;
                    if (entry.Options is { } options)
                    {
                        flow.Apply(options); // not final: matching goes on
                        continue;
                    }
                    if (entry.Verdict == Verdict.Sniff) flow.Sniffed = true;
                    return Decision(i);
                }
            }
        }
        return new RouteDecision(Verdict.Route, _final, -1, _entries.Length, TimeSpan.Zero);
    }

    /// <summary>The sniffers a sniff rule asked for (empty = every sniffer the engine has).</summary>
    public IReadOnlyList<string> SniffersOf(int ruleIndex) => _entries[ruleIndex].Sniffers;

    /// <summary>The server and strategy of a resolve rule (a <see cref="Verdict.Resolve"/> decision's RuleIndex).</summary>
    public ResolveAction? ResolveOf(int ruleIndex) => ruleIndex >= 0 && ruleIndex < _entries.Length ? _entries[ruleIndex].Resolve : null;

    /// <summary>One line per rule ("process_name=[curl] => reject"), for logs and the /rules API.</summary>
    public IReadOnlyList<string> Describe() => _descriptions;

    /// <summary>Rules the config has (the indexes <see cref="SetEnabled"/> and <see cref="StateOf"/> take).</summary>
    public int Count => _entries.Length;

    /// <summary>
    /// Switches rule <paramref name="index"/> off (passed over as if absent) or on again, for new decisions; flows already
    /// decided keep their lane. False for an index the config does not have.
    /// </summary>
    public bool SetEnabled(int index, bool enabled)
    {
        if ((uint)index >= (uint)_entries.Length) return false;
        lock (_switching)
        {
            var next = _off is { } current ? (bool[])current.Clone() : new bool[_entries.Length];
            next[index] = !enabled;
            Volatile.Write(ref _off, Array.IndexOf(next, true) < 0 ? null : next);
        }
        return true;
    }

    /// <summary>Whether rule <paramref name="index"/> is on, how many decisions it made, and when the last was.</summary>
    public RuleState StateOf(int index)
    {
        long ticks = Volatile.Read(ref _lastHitTicks[index]);
        return new RuleState(Volatile.Read(ref _off) is not { } off || !off[index], Interlocked.Read(ref _hits[index]),
            ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero));
    }

    private RouteDecision Decision(int i)
    {
        Interlocked.Increment(ref _hits[i]);
        Volatile.Write(ref _lastHitTicks[i], _time.GetUtcNow().UtcTicks);
        var e = _entries[i];
        return new RouteDecision(e.Verdict, e.Outbound, i, i + 1, e.SniffTimeout);
    }

    private sealed record Entry(CompiledRule Rule, Verdict Verdict, string? Outbound, TimeSpan SniffTimeout, string[] Sniffers)
    {
        /// <summary>A route-options rule: applied to the flow, never the decision.</summary>
        public RouteOptionsAction? Options { get; init; }

        /// <summary>A resolve rule's server and strategy.</summary>
        public ResolveAction? Resolve { get; init; }
    }

    /// <summary>Rules [Start, End): a single rule, or a block of destination-only rules.</summary>
    private readonly record struct Step(int Start, int End, RuleBlock? Block);
}

/// <summary>A rule's switch and its decisions so far (the Clash API's /rules "extra").</summary>
public readonly record struct RuleState(bool Enabled, long Hits, DateTimeOffset? LastHit);
