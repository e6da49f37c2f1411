using System.Text.Json;
using Sluice.Cli.Watch;
using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice status [--json] [--watch]`: state, lanes, outbounds, gate. Exit 0 when connected, 4 when not,
/// 1 in state error, 3 when the daemon is unreachable. --watch: the live terminal view (Watch/StatusWatch).
/// </summary>
internal static class StatusCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly([.. DaemonConnection.Options, "--interval"]);
        if (line.SetFlags.Contains("--watch"))
        {
            double seconds = line.Options.TryGetValue("--interval", out var i) && double.TryParse(i, System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 1;
            return DaemonConnection.Run(line, client => StatusWatch.RunAsync(client, TimeSpan.FromSeconds(Math.Max(0.2, seconds))));
        }
        return DaemonConnection.Run(line, async client =>
        {
            var envelope = await client.CoreAsync("status");
            if (line.SetFlags.Contains("--json")) Console.WriteLine(JsonSerializer.Serialize(envelope, ApiJsonContext.Default.Envelope));
            else if (envelope.Ok) Print(envelope.DataAs<StatusData>()!);
            else Console.Error.WriteLine($"sluice: {envelope.Message}");
            if (!envelope.Ok) return ExitCodes.Failed;
            return envelope.DataAs<StatusData>()!.State switch
            {
                EngineStates.Connected => ExitCodes.Ok,
                EngineStates.Error => ExitCodes.Failed,
                _ => ExitCodes.NotConnected,
            };
        });
    }

    private static void Print(StatusData s)
    {
        string since = s.ConnectedAt is { } at ? $" since {at.ToLocalTime():HH:mm:ss} ({DaemonConnection.Ago(at).Replace(" ago", "")})" : "";
        Console.WriteLine($"state      {s.State}{since}");
        if (s.Error is { } error) Console.WriteLine($"error      {error.Message} (code {error.Code})");
        if (s.ConfigPath is not null) Console.WriteLine($"config     {s.ConfigPath}");
        if (s.Tun is not null) Console.WriteLine($"tun        {s.Tun}");
        Console.WriteLine($"gate       {s.Gate ?? "not loaded"}");
        Console.WriteLine($"network    default route via {s.PhysicalInterface ?? "none"} ({s.NetworkChanges} changes seen)");
        Console.WriteLine($"traffic    {s.Connections} connections, up {DaemonConnection.Bytes(s.UploadTotal)}, down {DaemonConnection.Bytes(s.DownloadTotal)}");
        foreach (var lane in s.Lanes)
            Console.WriteLine($"lane       {lane.Tag}: {lane.Connections} connections, up {DaemonConnection.Bytes(lane.Upload)}, down {DaemonConnection.Bytes(lane.Download)}");
        foreach (var o in s.Outbounds)
        {
            string extra = o.Now is not null ? $" now {o.Now} of [{string.Join(", ", o.Members ?? [])}]"
                : o.Peers is { Count: > 0 } peers ? " " + string.Join("; ", peers.Select(p => $"peer {p.Name} at {p.Endpoint ?? "?"}, handshake {DaemonConnection.Ago(p.LastHandshake)}"))
                : "";
            Console.WriteLine($"outbound   {o.Tag} ({o.Type}){extra}");
        }
        foreach (var pick in s.Selections)
            Console.WriteLine($"selected   {pick.Member} in {pick.Group} ({pick.Type}, {(pick.Udp ? "TCP+UDP" : "TCP only")})");
        foreach (var refused in s.UdpRefused)
            Console.WriteLine($"udp        UDP refused on lane {refused.Lane} ({refused.Flows} flows)");
        Console.WriteLine($"daemon     {s.Version}");
    }
}
