using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Socks;

namespace Sluice.Core.Outbounds.Groups;

/// <summary>
/// A group of outbounds that carries each flow through one member:
/// 1. selector: the member chosen by hand (<see cref="Select"/>), else "default", else the first;
/// 2. urltest: the member with the lowest TCP connect latency to its server, all probed in parallel
///    every interval; a switch needs a gain above the tolerance, so close scores do not flap;
/// 3. fallback: the first healthy member in order.
/// urltest/fallback can be pinned to a member by hand (<see cref="Pin"/>, the dashboards' "fixed"): it carries
/// new flows while healthy; when it fails the group picks as usual, and returns to it once it is healthy again.
/// A member whose probe or dial fails is out until a probe passes again, and the connections it
/// carries are closed so apps reconnect through a live one. urltest/fallback retry a failed dial on
/// the next member. Probing starts at the first flow and stops after idle_timeout without flows.
/// Probe sockets come from the engine's socket factory: they carry the mark and stay behind the gate.
/// </summary>
internal sealed partial class OutboundGroup : IOutbound
{
    /// <summary>A probe round's bound: a member that has not answered by then is down for that round.</summary>
    internal static readonly TimeSpan MaxProbeTimeout = TimeSpan.FromSeconds(5);

    private readonly GroupOutboundOptions _options;
    private readonly Func<string, IOutbound?> _resolve;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Func<IOutbound, TimeSpan, CancellationToken, ValueTask<TimeSpan?>> _probe;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly GroupFeeds _feeds;
    private MemberHealth[]? _members;
    private IReadOnlyList<string> _memberTags;
    private volatile MemberHealth? _selected;
    private volatile MemberHealth? _pinned;
    private string? _manual;
    private long _lastUsed;
    private Task? _probing;
    private Task? _firstRound;

    /// <param name="probe">Measures one member (null: nothing to probe); default a TCP connect to its server. Tests pass a fake.</param>
    public OutboundGroup(GroupOutboundOptions options, Func<string, IOutbound?> resolve, ILogger logger, TimeProvider? time = null,
        Func<IOutbound, TimeSpan, CancellationToken, ValueTask<TimeSpan?>>? probe = null)
    {
        _options = options;
        _resolve = resolve;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _probe = probe ?? ConnectProbeAsync;
        _memberTags = options.Members;
        _manual = options.Default;
        _feeds = new GroupFeeds(options.Tag, logger);
    }

    public string Tag => _options.Tag;

    public string Type => _options.GroupType;

    /// <summary>The member new flows take now (null before the first flow or when none is healthy).</summary>
    public IOutbound? Current => _selected?.Outbound;

    /// <summary>
    /// The member flows go to, for display and capability even before the first flow: a selector's chosen
    /// (or default, or first) member; for urltest/fallback the current one.
    /// </summary>
    public IOutbound? Effective => _selected?.Outbound ?? (Type == "selector"
        ? (EnsureMembers().FirstOrDefault(m => m.Outbound.Tag == _manual) ?? EnsureMembers().FirstOrDefault())?.Outbound
        : null);

    /// <summary>The lane that actually carries a flow sent to <paramref name="outbound"/>: through groups to the member they chose (bounded against cycles).</summary>
    public static IOutbound Carrier(IOutbound outbound)
    {
        for (int depth = 0; depth < 8 && outbound is OutboundGroup { Effective: { } member }; depth++) outbound = member;
        return outbound;
    }

    /// <summary>The tag of <see cref="Carrier"/>.</summary>
    public static string CarrierTag(IOutbound outbound) => Carrier(outbound).Tag;

    /// <summary>A group carries UDP when the member it would use now does (unknown: assume it does; the member refuses itself).</summary>
    public bool CarriesUdp => Effective is not { } member || member.CarriesUdp;

    /// <summary>Raised (off the flow path) when a probe round or dial finds no healthy member; subscriptions re-fetch early.</summary>
    public event Action<OutboundGroup>? AllMembersFailed;

    internal IReadOnlyList<MemberHealth> Members => EnsureMembers();

    /// <summary>Raised after <see cref="Select"/> picked a member by hand (the cache file remembers it).</summary>
    public event Action<OutboundGroup, string>? Selected;

    /// <summary>selector: choose a member by tag; false when the group has no such member.</summary>
    public bool Select(string tag)
    {
        var member = EnsureMembers().FirstOrDefault(m => m.Outbound.Tag == tag);
        if (member is null) return false;
        _manual = tag;
        Switch(member, "selected");
        Selected?.Invoke(this, tag);
        return true;
    }

    /// <summary>The member urltest/fallback was pinned to (<see cref="Pin"/>); null when it picks by itself.</summary>
    public string? Pinned => _pinned?.Outbound.Tag;

    /// <summary>Raised after <see cref="Pin"/> pinned a member (its tag) or unpinned (null); the cache file remembers it.</summary>
    public event Action<OutboundGroup, string?>? PinChanged;

    /// <summary>
    /// urltest/fallback: carry new flows through <paramref name="tag"/> while it is healthy (null: pick by
    /// probes again). False when this is a selector or has no such member.
    /// </summary>
    public bool Pin(string? tag)
    {
        if (Type == "selector") return false;
        MemberHealth? member = null;
        if (tag is not null && (member = EnsureMembers().FirstOrDefault(m => m.Outbound.Tag == tag)) is null) return false;
        _pinned = member;
        if (member is not null && member.Healthy) Switch(member, "pinned");
        else Reselect();
        PinChanged?.Invoke(this, tag);
        return true;
    }

    /// <summary>The servers subscription <paramref name="feed"/> (its place among those feeding the group) gives it now (see <see cref="GroupFeeds"/>).</summary>
    public void SetFeed(int feed, IReadOnlyList<IOutbound> servers) => _feeds.Set(feed, servers,
        () => _options.Members.Select(t => _resolve(t) ?? throw new InvalidOperationException($"group \"{Tag}\": member \"{t}\" does not exist")), SetMembers);

    /// <summary>Replaces the members. Connections on members that left are closed.</summary>
    private void SetMembers(IReadOnlyList<IOutbound> outbounds)
    {
        MemberHealth[] old;
        lock (_gate)
        {
            old = _members ?? [];
            var kept = old.ToDictionary(m => m.Outbound.Tag, StringComparer.Ordinal);
            _members = outbounds.Select(o => kept.TryGetValue(o.Tag, out var m) && ReferenceEquals(m.Outbound, o) ? m : new MemberHealth(o)).ToArray();
            _memberTags = outbounds.Select(o => o.Tag).ToArray();
        }
        foreach (var gone in old.Where(m => !_members.Contains(m))) gone.CloseAll();
        if (_selected is { } s && !_members.Contains(s)) _selected = null;
        if (_pinned is { } p && !_members.Contains(p)) _pinned = null;
        Reselect();
        LogMembers(_logger, Tag, _members.Length);
    }

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        var members = await PrepareAsync(cancellationToken);
        for (int attempt = 0; attempt < members.Length; attempt++)
        {
            var member = Pick(members) ?? throw NoneHealthy(members);
            try
            {
                var stream = await member.Outbound.DialTcpAsync(destination, cancellationToken);
                member.Track(stream);
                return stream;
            }
            catch (OutboundException e) when (Type != "selector")
            {
                MarkDown(member, e.Message);
            }
        }
        throw NoneHealthy(members);
    }

    public async ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        var members = await PrepareAsync(cancellationToken);
        for (int attempt = 0; attempt < members.Length; attempt++)
        {
            var member = Pick(members) ?? throw NoneHealthy(members);
            try
            {
                return await member.Outbound.OpenUdpAsync(destination, cancellationToken);
            }
            catch (OutboundException e) when (Type != "selector")
            {
                MarkDown(member, e.Message);
            }
        }
        throw NoneHealthy(members);
    }

    private OutboundException NoneHealthy(MemberHealth[] members) => new(members.Length == 0
        ? $"group \"{Tag}\" has no members"
        : $"group \"{Tag}\": no healthy member ({string.Join("; ", members.Select(m => $"{m.Outbound.Tag}: {m.LastError ?? "down"}"))})");

    private async ValueTask<MemberHealth[]> PrepareAsync(CancellationToken cancellationToken)
    {
        var members = EnsureMembers();
        Volatile.Write(ref _lastUsed, _time.GetTimestamp());
        if (Type == "selector")
        {
            if (_selected is null) Switch(members.FirstOrDefault(m => m.Outbound.Tag == _manual) ?? members.FirstOrDefault(), "default");
            return members;
        }
        lock (_gate)
        {
            if (_probing is null || _probing.IsCompleted)
            {
                var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _firstRound ??= first.Task;
                _probing = ProbeLoopAsync(first);
            }
        }
        // Flows before the first pick (a fake-IP app connects the moment its lookup is answered) wait for the first
        // round, so urltest does not start on an arbitrary member. The round itself is bounded (ProbeAsync), so this
        // wait is too: at most MaxProbeTimeout, after which members that did not answer count as down.
        if (_selected is null && _firstRound is { IsCompleted: false } round)
            await round.WaitAsync(cancellationToken).ConfigureAwait(false);
        return members;
    }

    private MemberHealth[] EnsureMembers()
    {
        if (_members is { } members) return members;
        lock (_gate)
        {
            return _members ??= _memberTags
                .Select(t => _resolve(t) ?? throw new InvalidOperationException($"group \"{Tag}\": member \"{t}\" does not exist"))
                .Select(o => new MemberHealth(o)).ToArray();
        }
    }

    private MemberHealth? Pick(MemberHealth[] members)
    {
        if (Type == "selector") return _selected;
        if (_selected is { Healthy: true } current && (_pinned is not { Healthy: true } pin || pin == current)) return current;
        Reselect();
        return _selected;
    }

    private async Task ProbeLoopAsync(TaskCompletionSource first)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await ProbeAllAsync().ConfigureAwait(false);
                first.TrySetResult();
                if (_time.GetElapsedTime(Volatile.Read(ref _lastUsed)) > _options.IdleTimeout)
                {
                    LogIdle(_logger, Tag);
                    return;
                }
                await Task.Delay(_options.Interval, _time, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            first.TrySetResult();
        }
    }

    /// <summary>One round: every member with a server is probed at once; then the choice is revisited.</summary>
    internal async Task ProbeAllAsync()
    {
        var members = EnsureMembers();
        var timeout = _options.Interval < MaxProbeTimeout ? _options.Interval : MaxProbeTimeout;
        await Task.WhenAll(members.Select(m => ProbeAsync(m, timeout))).ConfigureAwait(false);
        Reselect();
    }

    /// <summary>TCP connect latency to the member's server; null for a member without one (direct, another group).</summary>
    private static async ValueTask<TimeSpan?> ConnectProbeAsync(IOutbound outbound, TimeSpan timeout, CancellationToken cancellationToken) =>
        outbound is IProxyServerOutbound proxy ? await proxy.Server.ProbeAsync(timeout, cancellationToken).ConfigureAwait(false) : null;

    /// <summary>One member probed now, on behalf of the picker (its result is the member's last delay).</summary>
    internal async Task ProbeMemberAsync(MemberHealth member, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            if (await _probe(member.Outbound, timeout, cancellationToken).ConfigureAwait(false) is { } delay)
            {
                member.Delay = delay;
                member.LastError = null;
            }
        }
        catch (OutboundException e)
        {
            member.Delay = null;
            member.LastError = e.Message;
        }
    }

    private async Task ProbeAsync(MemberHealth member, TimeSpan timeout)
    {
        try
        {
            // Bounded here, not only by the probe: a probe that overruns its timeout (stuck in a resolver, say)
            // must not hold up the round, nor the flows waiting for the group's first pick.
            var probe = _probe(member.Outbound, timeout, _stop.Token).AsTask().WaitAsync(timeout, _time, _stop.Token);
            if (await probe.ConfigureAwait(false) is not { } delay)
            {
                // Nothing to probe: it counts as healthy, with no latency to compare.
                member.Healthy = true;
                return;
            }
            member.Delay = delay;
            member.LastError = null;
            if (!member.Healthy) LogUp(_logger, Tag, member.Outbound.Tag, (int)member.Delay.Value.TotalMilliseconds);
            member.Healthy = true;
        }
        catch (OutboundException e)
        {
            member.Delay = null;
            MarkDown(member, e.Message, reselect: false);
        }
        catch (TimeoutException)
        {
            member.Delay = null;
            MarkDown(member, $"no answer to the probe within {timeout.TotalSeconds:0.#} s", reselect: false);
        }
    }

    private void MarkDown(MemberHealth member, string reason, bool reselect = true)
    {
        member.LastError = reason;
        bool was = member.Healthy;
        member.Healthy = false;
        if (was)
        {
            int closed = member.CloseAll();
            LogDown(_logger, Tag, member.Outbound.Tag, reason, closed);
        }
        if (reselect) Reselect();
    }

    private void Reselect()
    {
        var members = _members;
        if (members is null || Type == "selector") return;
        MemberHealth? next;
        if (_pinned is { Healthy: true } pin && members.Contains(pin))
        {
            next = pin;
        }
        else if (Type == "fallback")
        {
            next = members.FirstOrDefault(m => m.Healthy);
        }
        else
        {
            next = members.Where(m => m.Healthy).OrderBy(m => m.Delay ?? TimeSpan.MaxValue).FirstOrDefault();
            var current = _selected;
            if (current is { Healthy: true } && next is not null && current != next && members.Contains(current)
                && (next.Delay ?? TimeSpan.MaxValue) + _options.Tolerance >= (current.Delay ?? TimeSpan.MaxValue))
                next = current; // not better by more than the tolerance: stay
        }
        if (next is null)
        {
            if (_selected is not null) _selected = null;
            if (members.Length > 0)
            {
                LogNoneHealthy(_logger, Tag);
                ThreadPool.QueueUserWorkItem(_ => AllMembersFailed?.Invoke(this));
            }
            return;
        }
        if (next != _selected) Switch(next, next.Delay is { } d ? $"{(int)d.TotalMilliseconds} ms" : "no latency measured");
    }

    private void Switch(MemberHealth? next, string why)
    {
        var previous = _selected;
        _selected = next;
        if (next is null || next == previous) return;
        LogSwitch(_logger, Tag, next.Outbound.Tag, why);
        if (_options.InterruptExisting && previous is not null) previous.CloseAll();
    }

    public void Dispose()
    {
        _stop.Cancel();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "group {Group}: now using {Member} ({Why})")]
    private static partial void LogSwitch(ILogger logger, string group, string member, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {Group}: member {Member} is down: {Reason}; closed {Closed} connections on it")]
    private static partial void LogDown(ILogger logger, string group, string member, string reason, int closed);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {Group}: member {Member} is up again ({Delay} ms)")]
    private static partial void LogUp(ILogger logger, string group, string member, int delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {Group}: no healthy member")]
    private static partial void LogNoneHealthy(ILogger logger, string group);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {Group}: idle, probing stops until the next flow")]
    private static partial void LogIdle(ILogger logger, string group);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {Group}: {Count} members")]
    private static partial void LogMembers(ILogger logger, string group, int count);
}
