using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice up [-c CONFIG] [--server NAME]`: the daemon brings the config up (without -c: the daemon's own
/// config, else the one it last brought up). `--server` picks that member in the selector groups.
/// `sluice reload`: the running config again, re-read from its file; live connections on unchanged outbounds stay.
/// </summary>
internal static class UpCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly([.. DaemonConnection.Options, "--config", "--server"]);
        var parameters = new Dictionary<string, string>();
        if (line.Options.TryGetValue("--config", out var config))
        {
            string path = Path.GetFullPath(config);
            if (!File.Exists(path)) throw new UsageException($"config file {path} does not exist");
            parameters["config_path"] = path;
        }
        if (line.Options.TryGetValue("--server", out var server)) parameters["server"] = server;
        return DaemonConnection.Run(line, async client =>
        {
            var envelope = await client.CoreAsync("up", parameters.Count == 0 ? null : parameters);
            return DaemonConnection.Report(line, envelope, e =>
            {
                var status = e.DataAs<StatusData>()!;
                Console.WriteLine($"{status.State}: {status.ConfigPath ?? "inline config"} on {status.Tun ?? "no TUN"}");
            });
        });
    }

    public static int Reload(CommandLine line)
    {
        line.AllowOnly(DaemonConnection.Options);
        return DaemonConnection.Run(line, async client => DaemonConnection.Report(line, await client.CoreAsync("reload"),
            e =>
            {
                var reload = e.DataAs<ReloadData>()!;
                Console.WriteLine(reload.Restarted is { } why
                    ? $"reloaded by a restart ({why}): {reload.State}, {reload.Closed} connection(s) closed"
                    : $"reloaded: {reload.Kept} connection(s) kept, {reload.Closed} closed{(reload.Replaced.Count == 0 ? "" : " (outbounds removed or changed: " + string.Join(", ", reload.Replaced) + ")")}");
            }));
    }
}
