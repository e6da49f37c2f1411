using Sluice.Core.Configuration;
using Sluice.Core.Gate;

namespace Sluice.Platform.Linux;

/// <summary>Turns a config's gate section into a plan for this host: prepares the protected cgroup and fills in the engine facts.</summary>
public static class LinuxGatePlanner
{
    public static GatePlan Plan(SluiceConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var tun = config.TunInbounds.FirstOrDefault();
        CgroupMatch? cgroup = config.Gate.Cgroup is { } path ? ProtectedCgroup.Prepare(path) : null;
        return new GatePlan(
            config.Gate,
            config.Route.DefaultMark ?? ConfigDefaults.FwMark,
            tun?.InterfaceName ?? ConfigDefaults.TunInterfaceName,
            tun?.Address ?? [],
            cgroup);
    }
}
