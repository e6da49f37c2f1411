using Sluice.Core.Gate;
using Sluice.Platform.Linux;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice exec --lane protected -- CMD [ARGS…]`: joins the protected cgroup of the loaded gate,
/// then becomes CMD (execvp, same PID), so every socket CMD and its children open is held by the
/// kernel even when the engine is dead. Refuses when no gate of this namespace holds a cgroup:
/// starting the app unheld would be the leak the user asked to prevent. After joining it drops to the
/// invoking user (<c>--user NAME|UID</c>, else sudo's SUDO_UID): only joining the cgroup needs root.
/// </summary>
internal static class ExecCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly("--lane", "--user");
        string lane = line.Require("--lane", "protected");
        if (lane != "protected")
            throw new UsageException($"exec --lane {lane}: only the \"protected\" lane exists for exec (other lanes are chosen by route rules)");
        if (line.Arguments.Count == 0)
            throw new UsageException("exec needs a program: sluice exec --lane protected -- CMD [ARGS…]");

        var state = new LinuxGate().Read()
            ?? throw new InvalidOperationException("no gate is loaded in this network namespace, so the app would not be held: run `sluice gate apply -c CONFIG` (gate.mode \"protected\" or \"all\") first");
        if (state.Cgroup is not { } cgroup)
            throw new InvalidOperationException("the loaded gate holds no cgroup (mode protected by uid only?): add \"cgroup\" to the config's gate section and apply it again");
        var user = ExecUser.Resolve(line.Options.GetValueOrDefault("--user"), Environment.GetEnvironmentVariable);
        ProtectedCgroup.Add(cgroup, Environment.ProcessId);
        user?.Become();
        Console.Error.WriteLine(ProcessExec.Exec(line.Arguments));
        return 127;
    }
}
