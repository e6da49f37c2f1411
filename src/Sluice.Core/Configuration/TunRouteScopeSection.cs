using System.Globalization;
using System.Text.Json;
using Sluice.Core.Tun;

namespace Sluice.Core.Configuration;

/// <summary>
/// The tun inbound's include_uid / include_uid_range / exclude_uid / exclude_uid_range /
/// include_interface / exclude_interface (sing-box names and forms: a uid is a number, a range is
/// "FIRST:LAST"). They limit what auto_route's policy rules steer, so they need auto_route.
/// </summary>
internal static class TunRouteScopeSection
{
    /// <summary>uid 4294967295 is (uid_t)-1, "no user": the kernel refuses it in a uidrange.</summary>
    private const uint MaxUid = uint.MaxValue - 1;

    public static readonly string[] Fields =
        ["include_uid", "include_uid_range", "exclude_uid", "exclude_uid_range", "include_interface", "exclude_interface"];

    public static RouteScope Read(ObjectReader r, bool autoRoute)
    {
        var present = Fields.Where(r.Has).ToList();
        var includeUid = r.List("include_uid", UidItem).Concat(r.List("include_uid_range", RangeItem)).ToList();
        var excludeUid = r.List("exclude_uid", UidItem).Concat(r.List("exclude_uid_range", RangeItem)).ToList();
        var includeInterface = r.List("include_interface", InterfaceItem);
        var excludeInterface = r.List("exclude_interface", InterfaceItem);
        if (includeInterface.Count > 0 && excludeInterface.Count > 0)
            r.Errors.Add(r.PathOf("exclude_interface"), "cannot be used together with include_interface: list the interfaces to steer, or the ones to leave out");
        if (present.Count > 0 && !autoRoute)
            r.Errors.Add(r.PathOf(present[0]), "needs \"auto_route\": true (these limits are policy-routing rules that auto_route installs)");
        return new RouteScope(includeUid, excludeUid, includeInterface, excludeInterface);
    }

    private static Optional<UidRange> UidItem(JsonElement e, string path, ErrorList errors) =>
        ObjectReader.ReadInteger(e, path, 0, MaxUid, errors) is { } uid ? new UidRange((uint)uid, (uint)uid) : default;

    private static Optional<UidRange> RangeItem(JsonElement e, string path, ErrorList errors)
    {
        if (e.ValueKind != JsonValueKind.String)
        {
            ObjectReader.TypeError(path, "a uid range string such as \"1000:1999\"", e, errors);
            return default;
        }
        string s = e.GetString()!;
        int colon = s.IndexOf(':');
        if (colon > 0
            && uint.TryParse(s.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out uint first)
            && uint.TryParse(s.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint last)
            && first <= last && last <= MaxUid)
            return new UidRange(first, last);
        errors.Add(path, $"{JsonPath.Quote(s)} is not a uid range: expected \"FIRST:LAST\" with FIRST <= LAST <= {MaxUid}, such as \"1000:1999\"");
        return default;
    }

    private static Optional<string> InterfaceItem(JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } item) return default;
        string name = item.Value;
        if (InterfaceNames.IsValid(name)) return name;
        errors.Add(path, InterfaceNames.Problem(name));
        return default;
    }
}
