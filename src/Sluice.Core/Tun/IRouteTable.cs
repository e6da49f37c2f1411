using Sluice.Packets;

namespace Sluice.Core.Tun;

/// <summary>
/// Policy routing that sends the host's traffic into the TUN (auto_route). Implementations apply a
/// plan idempotently and remove exactly what they added.
/// </summary>
public interface IRouteTable
{
    /// <summary>Removes anything a previous run with this plan's table/priorities left behind (after a SIGKILL).</summary>
    void RemoveStale(AutoRoutePlan plan);

    void Apply(AutoRoutePlan plan);

    void Remove(AutoRoutePlan plan);
}

/// <summary>An IP prefix such as 10.0.0.0/8 or fd00::/8.</summary>
public readonly record struct IpPrefix(NetAddress Address, int Length)
{
    public bool IsV4 => Address.IsV4;

    public static bool TryParse(string? text, out IpPrefix prefix)
    {
        prefix = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        int slash = text.IndexOf('/');
        string addressPart = slash < 0 ? text : text[..slash];
        if (!NetAddress.TryParse(addressPart, out var address)) return false;
        int max = address.IsV4 ? 32 : 128;
        int length = max;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out length) || length > max))
            return false;
        prefix = new IpPrefix(address, length);
        return true;
    }

    public static IpPrefix Parse(string text) =>
        TryParse(text, out var p) ? p : throw new FormatException($"\"{text}\" is not a CIDR prefix");

    /// <summary>The network address: host bits cleared.</summary>
    public NetAddress Network
    {
        get
        {
            Span<byte> bytes = stackalloc byte[16];
            int n = Address.WriteTo(bytes);
            for (int bit = Length; bit < n * 8; bit++) bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
            return NetAddress.FromBytes(bytes[..n]);
        }
    }

    public bool Contains(NetAddress address)
    {
        if (address.IsV4 != IsV4) return false;
        if (Length == 0) return true;
        int width = IsV4 ? 32 : 128;
        UInt128 mask = UInt128.MaxValue << (width - Length);
        if (IsV4) mask &= uint.MaxValue;
        return (address.Value & mask) == (Address.Value & mask);
    }

    public override string ToString() => $"{Address}/{Length}";
}

/// <summary>What auto_route installs. Rendered by the platform; see docs/config.md.</summary>
public sealed record AutoRoutePlan(
    string TunName,
    int Table,
    uint FwMark,
    int RulePriority,
    bool HasV4,
    bool HasV6,
    IReadOnlyList<IpPrefix> RouteAddress,
    IReadOnlyList<IpPrefix> RouteExcludeAddress,
    bool StrictRoute)
{
    /// <summary>Which users and incoming interfaces the rule steers; the rest bypass the TUN in the kernel.</summary>
    public RouteScope Scope { get; init; } = RouteScope.Everyone;
}

/// <summary>An inclusive range of user ids, as in <c>ip rule ... uidrange FIRST-LAST</c>.</summary>
public readonly record struct UidRange(uint First, uint Last)
{
    public override string ToString() =>
        First == Last ? First.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : $"{First.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{Last.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>
/// Who auto_route steers into the TUN (tun include_uid / exclude_uid / include_interface /
/// exclude_interface). Uid ranges apply to the host's own traffic; interfaces to traffic forwarded
/// in from them. Empty lists = no limit. See docs/config.md.
/// </summary>
public sealed record RouteScope(
    IReadOnlyList<UidRange> IncludeUid,
    IReadOnlyList<UidRange> ExcludeUid,
    IReadOnlyList<string> IncludeInterface,
    IReadOnlyList<string> ExcludeInterface)
{
    public static readonly RouteScope Everyone = new([], [], [], []);

    public bool IsEveryone => IncludeUid.Count == 0 && ExcludeUid.Count == 0 && IncludeInterface.Count == 0 && ExcludeInterface.Count == 0;
}
