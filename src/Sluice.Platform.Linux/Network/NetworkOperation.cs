using System.Globalization;
using Sluice.Core.Tun;

namespace Sluice.Platform.Linux.Network;

/// <summary>
/// One change to links, addresses, routes or policy rules, as the renderers produce it. Each renders to the
/// line <c>ip -batch</c> reads (logs, dry runs, and the path that works in a named namespace) and is encoded as
/// one rtnetlink request (<see cref="RtnetlinkRequest"/>) for the engine's own, in-process path.
/// </summary>
public abstract record NetworkOperation
{
    /// <summary>The <c>ip -batch</c> line, without the newline.</summary>
    public abstract string Render();

    /// <summary>Renders operations as an <c>ip -batch</c> script, one line each.</summary>
    public static string RenderBatch(IEnumerable<NetworkOperation> operations) =>
        string.Concat(operations.Select(o => o.Render() + "\n"));

    internal static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary><c>link set dev X mtu N</c>, <c>… addrgenmode none</c> or <c>… up</c>: exactly one of the three.</summary>
public sealed record LinkOperation(string Device, int? Mtu = null, bool AddrGenModeNone = false, bool Up = false) : NetworkOperation
{
    public override string Render() =>
        $"link set dev {Device} " + (Mtu is { } mtu ? "mtu " + Number(mtu) : AddrGenModeNone ? "addrgenmode none" : "up");
}

/// <summary><c>address replace A/L dev X</c>; IPv6 addresses with <c>nodad</c> (usable at once).</summary>
public sealed record AddressOperation(IpPrefix Address, string Device) : NetworkOperation
{
    public bool NoDad => !Address.IsV4;

    public override string Render() => $"address replace {Address} dev {Device}" + (NoDad ? " nodad" : "");
}

public enum RouteVerb { Add, Replace, Delete }

public enum RouteKind { Unicast, Throw, Unreachable, Blackhole }

/// <summary><c>route add|replace|del [throw|unreachable|blackhole] PREFIX [dev X] table T</c>.</summary>
public sealed record RouteOperation(RouteVerb Verb, RouteKind Kind, IpPrefix Destination, string? Device, uint Table) : NetworkOperation
{
    public bool IsV4 => Destination.IsV4;

    /// <summary>The line after <c>route add</c>/<c>route del</c>.</summary>
    public string Spec()
    {
        string kind = Kind switch
        {
            RouteKind.Throw => "throw ",
            RouteKind.Unreachable => "unreachable ",
            RouteKind.Blackhole => "blackhole ",
            _ => "",
        };
        string dev = Device is null ? "" : $" dev {Device}";
        return $"{kind}{Destination.Network}/{Number(Destination.Length)}{dev} table {Number(Table)}";
    }

    public override string Render() =>
        "route " + (Verb switch { RouteVerb.Add => "add ", RouteVerb.Replace => "replace ", _ => "del " }) + Spec();
}

/// <summary><c>route flush table T</c> in one family: every route of the table goes, none is fine.</summary>
public sealed record RouteFlushOperation(bool V4, uint Table) : NetworkOperation
{
    public override string Render() => $"route flush table {Number(Table)}";
}

/// <summary>
/// A policy rule's selectors and action, in <c>ip rule</c>'s words:
/// <c>pref P [not] [iif X] [uidrange A-B] [fwmark M] (lookup T | goto G | nop)</c>. A rule to delete may name
/// fewer (only <c>pref</c>: any rule at that priority).
/// </summary>
public sealed record RuleSpec(int Priority, bool Not = false, string? InputInterface = null, UidRange? Uids = null,
    uint? FwMark = null, uint? Lookup = null, int? Goto = null, bool Nop = false)
{
    public string Render()
    {
        var parts = new List<string> { "pref " + NetworkOperation.Number(Priority) };
        if (Not) parts.Add("not");
        if (InputInterface is not null) parts.Add("iif " + InputInterface);
        if (Uids is { } u) parts.Add($"uidrange {NetworkOperation.Number(u.First)}-{NetworkOperation.Number(u.Last)}");
        if (FwMark is { } m) parts.Add("fwmark 0x" + m.ToString("x", CultureInfo.InvariantCulture));
        if (Lookup is { } t) parts.Add("lookup " + NetworkOperation.Number(t));
        if (Goto is { } g) parts.Add("goto " + NetworkOperation.Number(g));
        if (Nop) parts.Add("nop");
        return string.Join(' ', parts);
    }

    public override string ToString() => Render();
}

/// <summary><c>rule add|del SPEC</c> in one family (<c>ip -4</c> / <c>ip -6</c>: a batch line cannot say which).</summary>
public sealed record RuleOperation(bool Add, bool V4, RuleSpec Rule) : NetworkOperation
{
    public override string Render() => (Add ? "rule add " : "rule del ") + Rule.Render();
}
