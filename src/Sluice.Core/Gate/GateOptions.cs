using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Gate;

/// <summary>Which processes the gate holds when their traffic would leave outside the TUN.</summary>
public enum GateMode
{
    /// <summary>No gate table is loaded by <c>sluice run</c> (an existing one is left as it is).</summary>
    Off,

    /// <summary>Every process on the host; only Sluice's own marked traffic leaves on physical links.</summary>
    All,

    /// <summary>
    /// Only processes the kernel can identify without the engine: by uid, or by the protected cgroup
    /// that <c>sluice exec --lane protected</c> puts them in. Name-based rules are not held (no engine, no names).
    /// </summary>
    Protected,
}

/// <summary>
/// The config's <c>gate</c> section (a Sluice extension to sing-box's schema; docs/gate.md).
/// </summary>
/// <param name="Mode">Default off.</param>
/// <param name="Uids">protected.uid: users whose every socket is held (mode protected).</param>
/// <param name="Cgroup">
/// protected.cgroup: cgroup path (relative to the hierarchy root) whose processes are held; null = none.
/// Default <see cref="GateDefaults.CgroupPath"/> in modes all and protected (in mode all only `exec` and `disable` use it).
/// </param>
/// <param name="AllowLan">Default false. Lets held traffic reach private and link-local ranges only (never a public "LAN").</param>
/// <param name="BootstrapDns">DNS servers held traffic may query on port 53 (udp/tcp); default none.</param>
public sealed record GateOptions(
    GateMode Mode,
    IReadOnlyList<uint> Uids,
    string? Cgroup,
    bool AllowLan,
    IReadOnlyList<NetAddress> BootstrapDns)
{
    public static GateOptions Off { get; } = new(GateMode.Off, [], null, false, []);

    public static string ModeName(GateMode mode) => mode switch
    {
        GateMode.All => "all",
        GateMode.Protected => "protected",
        _ => "off",
    };
}

/// <summary>Numbers and names the gate uses; chosen to sit next to <see cref="Configuration.ConfigDefaults"/>.</summary>
public static class GateDefaults
{
    /// <summary>The nftables table (family inet). Separate from the engine's <c>inet sluice_route</c>.</summary>
    public const string Table = "sluice";

    /// <summary>Default protected cgroup, relative to the cgroup hierarchy root.</summary>
    public const string CgroupPath = "sluice/protected";

    /// <summary>net_cls classid of the protected cgroup: major 0x534c ("SL"), minor 1.</summary>
    public const uint NetClsClassId = 0x534c0001;

    /// <summary>systemd unit that loads the gate at boot.</summary>
    public const string UnitName = "sluice-gate.service";

    /// <summary>Hook priority: before the usual filter chains (0), so no other accept rule runs first.</summary>
    public const int HookPriority = -10;
}

/// <summary>How the kernel identifies the protected cgroup's sockets; decided by the platform from what is mounted.</summary>
public abstract record CgroupMatch
{
    private CgroupMatch()
    {
    }

    /// <summary>cgroup v1 net_cls: the socket carries the cgroup's classid (<c>meta cgroup</c>).</summary>
    public sealed record NetCls(string Path, uint ClassId) : CgroupMatch;

    /// <summary>Pure cgroup v2 at /sys/fs/cgroup: <c>socket cgroupv2 level N "path"</c>.</summary>
    public sealed record V2(string Path) : CgroupMatch
    {
        public int Level => Path.Split('/', StringSplitOptions.RemoveEmptyEntries).Length;
    }
}

/// <summary>
/// Everything the renderers need: the options plus engine facts. Pure data.
/// </summary>
/// <param name="FwMark">The engine's socket mark (route.default_mark or 0x534c); marked packets pass.</param>
/// <param name="TunName">The engine's TUN (tun inbound interface_name); packets to it pass.</param>
/// <param name="TunAddresses">Addresses of the TUN; packets to them from any other interface are dropped (CVE-2019-14899).</param>
/// <param name="Cgroup">Null when the gate holds no cgroup.</param>
public sealed record GatePlan(
    GateOptions Options,
    uint FwMark,
    string TunName,
    IReadOnlyList<IpPrefix> TunAddresses,
    CgroupMatch? Cgroup);
