using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Core.Gate;
using Sluice.Packets;

namespace Sluice.Core.Configuration;

/// <summary>
/// "gate": {"mode", "uid", "cgroup", "allow_lan", "bootstrap_dns"} — Sluice's own section (not in
/// sing-box); docs/gate.md. Defaults: mode off, no uids, cgroup "sluice/protected" in modes all and protected,
/// allow_lan false, no bootstrap DNS.
/// </summary>
internal static partial class GateSection
{
    public const int MaxUids = 16;
    public const int MaxCgroupLength = 48;
    public const int MaxBootstrapDns = 8;

    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        if (ObjectReader.Open(element, path, config.Errors) is not { } r) return;
        var errors = config.Errors;
        int before = errors.Count;

        string modeText = r.String("mode") ?? "off";
        GateMode mode = modeText switch
        {
            "off" => GateMode.Off,
            "all" => GateMode.All,
            "protected" => GateMode.Protected,
            _ => Invalid(r.PathOf("mode"), $"unknown mode {JsonPath.Quote(modeText)} (expected off, all or protected)"),
        };

        var uids = r.List("uid", UidItem);
        if (uids.Count > MaxUids) errors.Add(r.PathOf("uid"), $"{uids.Count} uids: at most {MaxUids} (the gate's state must fit an nftables comment); use a cgroup instead");
        if (uids.Count > 0 && mode != GateMode.Protected)
            errors.Add(r.PathOf("uid"), $"only mode \"protected\" holds by uid (mode {JsonPath.Quote(modeText)} {(mode == GateMode.All ? "already holds every uid" : "holds nothing")})");

        string? cgroup = r.String("cgroup");
        if (cgroup is not null)
        {
            if (!ValidCgroup(cgroup))
                errors.Add(r.PathOf("cgroup"), $"{JsonPath.Quote(cgroup)} is not a cgroup path: relative (\"sluice/protected\"), segments of letters, digits, '.', '_', '-', no \"..\", at most {MaxCgroupLength} characters");
            else if (mode == GateMode.Off)
                errors.Add(r.PathOf("cgroup"), "mode \"off\" holds nothing: set mode \"protected\" (or \"all\")");
        }
        // Mode all holds everyone anyway; its cgroup is where `sluice exec --lane protected` puts apps,
        // so `gate disable` can refuse while they run.
        cgroup = mode == GateMode.Off ? null : cgroup ?? GateDefaults.CgroupPath;

        bool allowLan = r.Bool("allow_lan", false);
        var dns = r.List("bootstrap_dns", AddressItem);
        if (dns.Count > MaxBootstrapDns) errors.Add(r.PathOf("bootstrap_dns"), $"at most {MaxBootstrapDns} servers");
        r.Finish();
        if (errors.Count > before) return;
        config.Gate = new GateOptions(mode, uids, cgroup?.Trim('/'), allowLan, dns);

        GateMode Invalid(string at, string message)
        {
            errors.Add(at, message);
            return GateMode.Off;
        }
    }

    public static bool ValidCgroup(string path)
    {
        string p = path.Trim('/');
        return p.Length is > 0 and <= MaxCgroupLength && CgroupPattern().IsMatch(p)
            && p.Split('/').All(s => s is not ("." or ".."));
    }

    private static Optional<uint> UidItem(JsonElement e, string path, ErrorList errors) =>
        ObjectReader.ReadInteger(e, path, 0, uint.MaxValue - 1, errors) is { } n ? (uint)n : default(Optional<uint>);

    private static Optional<NetAddress> AddressItem(JsonElement e, string path, ErrorList errors)
    {
        if (e.ValueKind != JsonValueKind.String)
        {
            ObjectReader.TypeError(path, "an IP address string", e, errors);
            return default;
        }
        string s = e.GetString()!;
        if (NetAddress.TryParse(s, out var address) && !s.Contains('/')) return address;
        errors.Add(path, $"{JsonPath.Quote(s)} is not an IP address (a bootstrap DNS server is one address, e.g. \"9.9.9.9\")");
        return default;
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")]
    private static partial Regex CgroupPattern();
}
