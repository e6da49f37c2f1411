using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Gate;
using Sluice.Platform.Linux;

namespace Sluice.Hosting.Linux.Gate;

/// <summary>
/// The gate around a running engine (docs/gate.md): loaded before the engine starts, never removed when it
/// stops, and described in the words `sluice gate status` and the daemon's status use.
/// </summary>
internal static class EngineGate
{
    /// <summary>
    /// What `sluice run` and the daemon do before the engine starts: load the config's gate and keep it
    /// loaded (<see cref="GateWatch"/>), then, when there is a TUN, watch the main table for routes that try
    /// to pull traffic out of the tunnel.
    /// </summary>
    public static IDisposable? Apply(SluiceConfig config, ILogger logger)
    {
        if (IpCommand.InProcessNftablesUnavailable is { } why) logger.LogWarning("{Why}", why);
        var gate = new LinuxGate();
        bool closed;
        if (config.Gate.Mode != GateMode.Off)
        {
            var plan = LinuxGatePlanner.Plan(config);
            gate.Apply(plan);
            logger.LogInformation("gate closed: {Holds}; it stays closed when the engine stops (`sluice gate disable` opens it)",
                Holds(GateState.FromPlan(plan)));
            closed = true;
        }
        else
        {
            closed = gate.Read() is not null;
            if (closed) logger.LogInformation("gate: the config's gate.mode is off, but a loaded gate stays closed (`sluice gate disable` opens it)");
        }
        // A loaded gate is loaded again within a second when something flushes the ruleset.
        var watch = closed ? GateWatch.Start(null, line => logger.LogWarning("{Watch}", line)) : null;
        // Without a TUN there is no tunnel for a route to pull traffic out of.
        if (config.TunInbounds.FirstOrDefault()?.InterfaceName is not { } tun) return watch;
        var hijacks = new RouteHijackWatch(tun, closed, warning => logger.LogWarning("{Warning}", warning));
        return watch is null ? hijacks : new Watches(watch, hijacks);
    }

    private sealed class Watches(params IDisposable[] watches) : IDisposable
    {
        public void Dispose()
        {
            foreach (var w in watches) w.Dispose();
        }
    }

    /// <summary>
    /// Why a config brought up through the daemon's API may not replace the loaded gate; null when it may.
    /// An API caller cannot give the consent `gate disable` asks for, so a weaker gate goes through
    /// `sluice gate apply` (root, asks first). Mode off leaves a loaded gate as it is, so it opens nothing.
    /// </summary>
    public static string? RefuseWeakening(SluiceConfig config)
    {
        if (config.Gate.Mode == GateMode.Off || new LinuxGate().Read() is not { } loaded) return null;
        var holes = GateWeakening.Find(loaded, LinuxGatePlanner.Plan(config));
        return holes.Count == 0 ? null
            : $"the config would weaken the loaded gate ({string.Join("; ", holes)}); an API call cannot consent to that: run `sudo sluice gate apply -c CONFIG` (it asks, as `gate disable` does), then `sluice up` again";
    }

    /// <summary>The loaded gate in words, or null when no gate is loaded.</summary>
    public static string? Status() => new LinuxGate().Read() is { } state ? Holds(state) : null;

    /// <summary>The protected apps running now that the loaded gate holds, "PID NAME [why]"; empty when none or no gate.</summary>
    public static IReadOnlyList<string> HeldApps() =>
        new LinuxGate().Read() is { } state
            ? ProtectedApps.Find(state).Select(a => $"{a.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)} {a.Name} [{a.Reason}]").ToArray()
            : [];

    /// <summary>Which processes a loaded gate holds, in words.</summary>
    public static string Holds(GateState state) => state.Mode switch
    {
        GateMode.All => "mode all: every process except Sluice's own marked traffic",
        GateMode.Protected => "mode protected: " + string.Join("; ", Held(state)),
        _ => "a table inet sluice that Sluice did not write (no state comment)",
    };

    private static IEnumerable<string> Held(GateState state)
    {
        if (state.Uids.Count > 0) yield return "processes of uid " + string.Join(", ", state.Uids);
        if (state.Cgroup is { } c) yield return "processes in cgroup " + ProtectedCgroup.Describe(c) + " (`sluice exec --lane protected`)";
    }
}
