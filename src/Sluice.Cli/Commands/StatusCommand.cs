using System.Text.Json;
using Sluice.Cli.Watch;
using Sluice.Control;
using Sluice.Hosting.Linux.Gate;
using Sluice.Platform.Linux;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice status [--json] [--watch]`: state, lanes, outbounds, gate. Exit 0 when connected, 4 when not,
/// 1 in state error, 3 when the daemon is unreachable. --watch: the live terminal view (Watch/StatusWatch).
/// When the gate holds and no engine runs (the daemon down, or up but disconnected) it leads with the
/// <see cref="BlockedBanner"/>: what is cut off and the ways out. Bare `sluice` is this, plus a pointer to help.
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
        bool json = line.SetFlags.Contains("--json");
        using var client = DaemonConnection.Open(line);
        Envelope envelope;
        try
        {
            envelope = client.CoreAsync("status").GetAwaiter().GetResult();
        }
        catch (DaemonUnreachableException e)
        {
            if (!json && !e.Message.StartsWith("permission denied", StringComparison.Ordinal)) PrintLocalGate();
            Console.Error.WriteLine($"sluice: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (ApiHttpException e)
        {
            Console.Error.WriteLine($"sluice: {e.Message}");
            return ExitCodes.Failed;
        }
        if (json) Console.WriteLine(JsonSerializer.Serialize(envelope, ApiJsonContext.Default.Envelope));
        else if (envelope.Ok) Print(envelope.DataAs<StatusData>()!);
        else Console.Error.WriteLine($"sluice: {envelope.Message}");
        if (!envelope.Ok) return ExitCodes.Failed;
        return envelope.DataAs<StatusData>()!.State switch
        {
            EngineStates.Connected => ExitCodes.Ok,
            EngineStates.Error => ExitCodes.Failed,
            _ => ExitCodes.NotConnected,
        };
    }

    /// <summary>Bare `sluice`: where you stand, then where the commands are.</summary>
    public static int WhereAmI(CommandLine line)
    {
        int code = Execute(line);
        Console.WriteLine("run `sluice help` for the list of commands, `sluice doctor` to check this machine");
        return code;
    }

    /// <summary>No daemon answers: the gate is read here (root only), since it outlives the engine.</summary>
    private static void PrintLocalGate()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Console.WriteLine("gate       unknown: reading nftables needs root (`sudo sluice status` tells whether the kill switch holds)");
            return;
        }
        Sluice.Core.Gate.GateState? state;
        try
        {
            state = new LinuxGate().Read();
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception)
        {
            Console.WriteLine($"gate       unknown: {e.Message}");
            return;
        }
        if (state is null)
        {
            Console.WriteLine("gate       not loaded: no kill switch holds; apps reach the network directly");
            return;
        }
        var held = ProtectedApps.Find(state).Select(a => $"{a.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)} {a.Name} [{a.Reason}]").ToArray();
        foreach (string text in BlockedBanner.Lines("not running (no daemon answers)", EngineGate.Holds(state), held)) Console.WriteLine(text);
        Console.WriteLine();
    }

    private static void Print(StatusData s)
    {
        if (BlockedBanner.Applies(s.State, s.Gate))
        {
            foreach (string text in BlockedBanner.Lines(s.State, s.Gate!, s.HeldApps)) Console.WriteLine(text);
            Console.WriteLine();
        }
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
