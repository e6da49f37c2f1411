using System.Globalization;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Gate;
using Sluice.Hosting.Linux;
using Sluice.Hosting.Linux.Gate;
using Sluice.Platform.Linux;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice gate apply|enable|disable|status`: the fail-shut gate of this network namespace (docs/gate.md).
/// - apply -c CONFIG            load the config's gate now (what `run` and the boot unit do)
/// - enable -c CONFIG [--root]  apply, and install + enable the boot unit under ROOT (default /)
/// - disable [--yes] [--kill-apps] [--grace S] [--root]   open the gate and remove the unit
/// - status [-c CONFIG] [--root]                           what the gate holds and what it cannot
/// --root (or SLUICE_ROOT) redirects the unit to another root directory, as `systemctl --root`.
/// </summary>
internal static class GateCommand
{
    public static int Execute(CommandLine line)
    {
        string sub = line.Arguments.Count > 0 ? line.Arguments[0] : "";
        return sub switch
        {
            "apply" => Apply(line),
            "enable" => Enable(line),
            "disable" => Disable(line),
            "status" => Status(line),
            "unit" => PrintUnit(line),
            _ => throw new UsageException(sub.Length == 0
                ? "gate needs a subcommand: apply, enable, disable or status"
                : $"unknown gate subcommand \"{sub}\" (apply, enable, disable, status)"),
        };
    }

    private static int Apply(CommandLine line)
    {
        line.AllowOnly("--config", "--yes", "--kill-apps", "--grace");
        var plan = Load(line);
        if (!ConsentToWeaken(line, plan)) return 1;
        new LinuxGate().Apply(plan);
        Console.WriteLine($"gate closed: {EngineGate.Holds(GateState.FromPlan(plan))}");
        return 0;
    }

    private static int Enable(CommandLine line)
    {
        line.AllowOnly("--config", "--root", "--yes", "--kill-apps", "--grace");
        string config = Path.GetFullPath(line.Require("--config", "CONFIG"));
        var plan = Load(line);
        if (!ConsentToWeaken(line, plan)) return 1;
        new LinuxGate().Apply(plan);
        string root = Root(line);
        // Boot loads what is loaded now, rendered: a config that stops parsing cannot open the gate at boot.
        SystemdUnit.StoreRuleset(root, GateRenderer.Render(plan));
        string unit = SystemdUnit.Render(NftPath(), "/" + SystemdUnit.RulesetFile);
        SystemdUnit.Install(root, unit);
        Console.WriteLine($"gate closed: {EngineGate.Holds(GateState.FromPlan(plan))}");
        Console.WriteLine($"boot: {SystemdUnit.UnitPath(root)} enabled ({SystemdUnit.WantedBy}, after nftables.service, before network-pre.target); it loads {SystemdUnit.RulesetPath(root)} (rendered from {config}; run `gate enable` again after changing its gate section)");
        return 0;
    }

    /// <summary>The boot unit as `gate enable` installs it (a package ships it disabled; `gate enable` stores the ruleset it loads).</summary>
    private static int PrintUnit(CommandLine line)
    {
        line.AllowOnly("--nft");
        Console.Write(SystemdUnit.Render(line.Options.GetValueOrDefault("--nft") ?? NftPath(), "/" + SystemdUnit.RulesetFile));
        return 0;
    }

    private static int Disable(CommandLine line)
    {
        line.AllowOnly("--root", "--grace");
        string root = Root(line);
        var gate = new LinuxGate();
        var state = gate.Read();
        bool unitInstalled = File.Exists(SystemdUnit.UnitPath(root));
        if (state is null && !unitInstalled)
        {
            Console.WriteLine("gate: already open (no table inet sluice, no boot unit)");
            return 0;
        }

        if (!Consent(line, state, "open the gate", "Open the gate? Protected traffic will be able to leave outside the tunnel. [y/N] ",
                "sluice: gate left closed (pass --yes to open without asking)")) return 1;

        // A running engine's watch would load the gate again; the marker tells it the user opened it.
        GateWatch.MarkDisabled(null);
        gate.Remove();
        bool removedUnit = SystemdUnit.Uninstall(root);
        Console.WriteLine($"gate open: table inet sluice removed{(removedUnit ? $"; boot unit {SystemdUnit.UnitPath(root)} removed" : "")}");
        return 0;
    }

    /// <summary>
    /// The consent `gate disable` asks for, before anything opens: with protected apps running, --kill-apps
    /// ends them or --yes goes ahead; otherwise the terminal is asked (no terminal: no).
    /// </summary>
    private static bool Consent(CommandLine line, GateState? state, string action, string question, string declined)
    {
        var apps = state is null ? [] : ProtectedApps.Find(state);
        if (apps.Count > 0)
        {
            if (line.SetFlags.Contains("--kill-apps"))
            {
                var killed = ProtectedApps.Kill(apps, Grace(line));
                Console.WriteLine($"ended {apps.Count} protected app(s): {List(apps)}{(killed.Count > 0 ? $"; SIGKILL after the grace period: {string.Join(", ", killed)}" : "")}");
                return true;
            }
            if (line.SetFlags.Contains("--yes")) return true;
            Console.Error.WriteLine($"sluice: refusing to {action}: {apps.Count} protected app(s) running ({List(apps)}) would reach the network outside the tunnel");
            Console.Error.WriteLine("  end them first, pass --kill-apps (SIGTERM, then SIGKILL after --grace seconds), or --yes to go ahead anyway");
            return false;
        }
        if (line.SetFlags.Contains("--yes") || Confirm(question)) return true;
        Console.Error.WriteLine(declined);
        return false;
    }

    /// <summary>Replacing a loaded gate with a weaker one (docs/gate.md) asks as `gate disable` does.</summary>
    private static bool ConsentToWeaken(CommandLine line, GatePlan plan)
    {
        if (new LinuxGate().Read() is not { } loaded) return true;
        var holes = GateWeakening.Find(loaded, plan);
        if (holes.Count == 0) return true;
        Console.Error.WriteLine("sluice: this config would weaken the loaded gate: " + string.Join("; ", holes));
        return Consent(line, loaded, "weaken the gate", "Weaken the gate? [y/N] ", "sluice: the loaded gate is left as it was (pass --yes to replace it without asking)");
    }

    private static int Status(CommandLine line)
    {
        line.AllowOnly("--config", "--root");
        string root = Root(line);
        var gate = new LinuxGate();
        var state = gate.Read();
        if (state is null)
        {
            Console.WriteLine("gate: OPEN — no table inet sluice in this network namespace; nothing is held when Sluice is down");
        }
        else
        {
            Console.WriteLine($"gate: CLOSED — {EngineGate.Holds(state)}");
            Console.WriteLine($"  passes: loopback, {(state.TunName.Length > 0 ? state.TunName : "the TUN")}, Sluice's own traffic (mark {GateRanges.Hex(state.FwMark)}), DHCPv4/v6 client, IPv6 neighbour discovery{(state.AllowLan ? ", private/link-local LAN ranges (allow_lan)" : "")}");
            Console.WriteLine($"  dropped so far: {gate.DroppedPackets().ToString(CultureInfo.InvariantCulture)} packet(s)");
            var apps = ProtectedApps.Find(state);
            Console.WriteLine(apps.Count == 0 ? "  protected apps running: none" : $"  protected apps running: {List(apps)}");
        }
        if (line.Options.ContainsKey("--config"))
        {
            var config = ConfigLoader.LoadFile(line.Options["--config"], HostConfig.Origin);
            var byName = NameRules(config.Route.Rules).Distinct().ToArray();
            if (byName.Length > 0)
                Console.WriteLine($"  cannot hold: apps matched by {string.Join(", ", byName)} — such rules route only while the engine runs; a dead engine cannot tell processes by name. Start them with `sluice exec --lane protected` or run them as a gate.uid to hold them.");
        }
        else
        {
            Console.WriteLine("  cannot hold: apps chosen only by process name/path rules (pass -c CONFIG to list them); a dead engine cannot tell processes by name");
        }
        Console.WriteLine(SystemdUnit.IsEnabled(root)
            ? $"  boot: {GateDefaults.UnitName} enabled ({SystemdUnit.UnitPath(root)})"
            : "  boot: no unit enabled; the gate is gone after a reboot until Sluice starts (`sluice gate enable -c CONFIG`)");
        return 0;
    }

    /// <summary>The name-based matchers the config routes by (recursing into logical rules).</summary>
    private static IEnumerable<string> NameRules(IEnumerable<RuleOptions> rules)
    {
        foreach (var rule in rules)
        {
            if (rule is LogicalRuleOptions logical)
            {
                foreach (string inner in NameRules(logical.Rules)) yield return inner;
            }
            else if (rule is DefaultRuleOptions d)
            {
                foreach (string name in d.ProcessName) yield return $"process_name \"{name}\"";
                foreach (string path in d.ProcessPath) yield return $"process_path \"{path}\"";
                foreach (string regex in d.ProcessPathRegex) yield return $"process_path_regex \"{regex}\"";
            }
        }
    }

    internal static GatePlan Load(CommandLine line)
    {
        var config = ConfigLoader.LoadFile(line.Require("--config", "CONFIG"), HostConfig.Origin);
        if (config.Gate.Mode == GateMode.Off)
            throw new InvalidOperationException("the config's gate.mode is \"off\": set \"gate\": {\"mode\": \"all\"} or \"protected\" (docs/gate.md)");
        return LinuxGatePlanner.Plan(config);
    }

    internal static string Root(CommandLine line)
    {
        if (line.Options.TryGetValue("--root", out var root)) return Path.GetFullPath(root);
        return Environment.GetEnvironmentVariable("SLUICE_ROOT") is { Length: > 0 } env ? Path.GetFullPath(env) : "/";
    }

    internal static TimeSpan Grace(CommandLine line)
    {
        if (!line.Options.TryGetValue("--grace", out var text)) return TimeSpan.FromSeconds(5);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || seconds < 0 || seconds > 600)
            throw new UsageException($"--grace {text}: expected seconds (0..600)");
        return TimeSpan.FromSeconds(seconds);
    }

    internal static string List(IEnumerable<ProtectedApp> apps) =>
        string.Join(", ", apps.Select(a => $"{a.Pid.ToString(CultureInfo.InvariantCulture)} {a.Name} [{a.Reason}]"));

    /// <summary>Asks on the terminal; without one (scripts, tests) the answer is no.</summary>
    private static bool Confirm(string question)
    {
        if (Console.IsInputRedirected) return false;
        Console.Write(question);
        return Console.ReadLine()?.Trim().ToLowerInvariant() is "y" or "yes";
    }

    /// <summary>nft as the boot unit runs it: found on PATH now (systemd does not search PATH), else Debian's place.</summary>
    private static string NftPath() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Select(d => Path.Combine(d, "nft")).FirstOrDefault(File.Exists) ?? "/usr/sbin/nft";
}
