using Sluice.Control;
using Sluice.Daemon;
using Sluice.Hosting.Linux;
using Sluice.Platform.Linux.Systemd;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice daemon [-c CONFIG]`: the service owning the engine, its API on a Unix socket and on HTTP, the
/// dashboard. `daemon unit` prints the systemd unit, `daemon install` writes and enables it (and creates the
/// secret), `daemon uninstall` removes it. SIGINT/SIGTERM stop it; "up" stays remembered for the next start.
/// </summary>
internal static class DaemonCommand
{
    public static int Execute(CommandLine line)
    {
        string sub = line.Arguments.FirstOrDefault() ?? "";
        return sub switch
        {
            "" => Serve(line),
            "unit" => PrintUnit(line),
            "install" => Install(line),
            "uninstall" => Uninstall(line),
            _ => throw new UsageException($"daemon {sub}: expected nothing (run it), unit, install or uninstall"),
        };
    }

    private static int Serve(CommandLine line)
    {
        using var stop = new CancellationTokenSource();
        using var signals = StopSignals.Register(stop.Cancel);
        line.AllowOnly("--config", "--socket", "--secret-file", "--state-dir", "--listen");
        string? listen = line.Options.GetValueOrDefault("--listen") ?? DaemonPaths.Listen;
        var options = new DaemonOptions(
            line.Options.GetValueOrDefault("--socket") ?? DaemonPaths.Socket,
            line.Options.GetValueOrDefault("--secret-file") ?? DaemonPaths.SecretFile,
            line.Options.GetValueOrDefault("--state-dir") ?? DaemonPaths.StateDir,
            listen == "off" ? null : listen,
            line.Options.TryGetValue("--config", out var config) ? Path.GetFullPath(config) : null,
            VersionCommand.Version);

        LinuxHost.ServeDaemon(options, line.Debug, stop.Token);
        return 0;
    }

    private static string Render(CommandLine line)
    {
        string? config = line.Options.TryGetValue("--config", out var c) ? Path.GetFullPath(c) : null;
        // --binary: the path the unit starts (a package renders /usr/bin/sluice while building elsewhere).
        string[] command = line.Options.TryGetValue("--binary", out var binary) ? [binary] : SluiceBinary.AbsoluteCommand();
        return DaemonUnit.Render(command, config);
    }

    private static int PrintUnit(CommandLine line)
    {
        line.AllowOnly("--config", "--binary");
        Console.Write(Render(line));
        return 0;
    }

    private static int Install(CommandLine line)
    {
        line.AllowOnly("--config", "--root", "--binary");
        string root = line.Options.GetValueOrDefault("--root") ?? "/";
        DaemonUnit.Install(root, Render(line));
        // The HTTP API's secret, generated once, readable by root only.
        string secretFile = Path.Combine(root, DaemonPaths.DefaultSecretFile.TrimStart('/'));
        ApiSecret.LoadOrCreate(secretFile);
        // The socket's group: members drive the daemon without sudo (docs/api.md).
        if (root == "/" && Exec("getent", "group", "sluice") != 0)
            Console.WriteLine(Exec("groupadd", "--system", "sluice") == 0
                ? "created group \"sluice\": `sudo usermod -aG sluice USER` lets USER drive the daemon without sudo (after logging in again)"
                : "could not create group \"sluice\" (groupadd); the socket stays root's only");
        Console.WriteLine($"installed {DaemonUnit.UnitPath(root)} (enabled for {DaemonUnit.WantedBy}); API secret in {secretFile} (0600)");
        if (root == "/" && Directory.Exists("/run/systemd/system"))
            Console.WriteLine("run `systemctl daemon-reload && systemctl start sluice` to start it now");
        return 0;
    }

    private static int Uninstall(CommandLine line)
    {
        line.AllowOnly("--root");
        string root = line.Options.GetValueOrDefault("--root") ?? "/";
        Console.WriteLine(DaemonUnit.Uninstall(root) ? $"removed {DaemonUnit.UnitPath(root)}" : "no daemon unit was installed");
        return 0;
    }

    private static int Exec(string program, params string[] args)
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            process.WaitForExit();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
