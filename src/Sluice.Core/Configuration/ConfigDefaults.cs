namespace Sluice.Core.Configuration;

/// <summary>
/// Engine-wide defaults that a config may override. Chosen not to collide with the numbers other
/// tunnels install by default (wg-quick: table/mark 51820; sing-box: table 2022, rule 9000;
/// Tailscale: table 52, mark 0x80000; Mullvad: mark 0x6d6f6c65).
/// </summary>
public static class ConfigDefaults
{
    /// <summary>
    /// SO_MARK on the engine's own (direct) sockets: 0x534c, ASCII "SL". The policy rule sends marked
    /// traffic to the main table and the gate lets exactly this mark out. Overridden by route.default_mark.
    /// </summary>
    public const uint FwMark = 0x534c;

    /// <summary>Routing table that holds the default route into the TUN when auto_route is on.</summary>
    public const int RouteTable = 5140;

    /// <summary>Priority of the first policy rule auto_route installs (later rules take the next numbers).</summary>
    public const int RulePriority = 9100;

    public const string TunTag = "tun-in";
    public const string TunInterfaceName = "sluice0";
    public const int TunMtu = 65535;
    public const string DirectTag = "direct";
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan SniffTimeout = TimeSpan.FromMilliseconds(300);

    /// <summary>Where the engine keeps state between runs (remote rule sets, the cache file): SLUICE_STATE_DIR, default /var/lib/sluice.</summary>
    public static string StateDirectory => Environment.GetEnvironmentVariable("SLUICE_STATE_DIR") is { Length: > 0 } dir ? dir : "/var/lib/sluice";
}
