using Sluice.Core.Gate;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Tests;

/// <summary>Gate plans for the renderer tests (nftables on Linux, pf for macOS); linked into both test projects.</summary>
internal static class GatePlans
{
    private static readonly IpPrefix[] TunAddresses = [IpPrefix.Parse("172.19.0.1/30"), IpPrefix.Parse("fdfe:dcba:9876::1/126")];

    public static GatePlan Plan(GateMode mode, uint[]? uids = null, CgroupMatch? cgroup = null, bool lan = false, string[]? dns = null) =>
        new(new GateOptions(mode, uids ?? [], cgroup switch { CgroupMatch.NetCls n => n.Path, CgroupMatch.V2 v => v.Path, _ => null }, lan,
                (dns ?? []).Select(NetAddress.Parse).ToArray()),
            0x534c, "sluice0", TunAddresses, cgroup);
}
