using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Sluice.Core.Gate;

namespace Sluice.Platform.Linux;

/// <summary>A running process the gate holds.</summary>
public sealed record ProtectedApp(int Pid, string Name, string Reason);

/// <summary>
/// Finds and ends the apps a gate holds: processes in the protected cgroup, or running as a
/// protected uid, and in the same network namespace as the caller (the gate is per namespace).
/// The caller itself is never listed.
/// </summary>
public static partial class ProtectedApps
{
    public static IReadOnlyList<ProtectedApp> Find(GateState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        string? ownNetns = NetnsOf("self");
        var members = state.Cgroup is { } c ? ProtectedCgroup.Members(c).ToHashSet() : [];
        var apps = new List<ProtectedApp>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid == Environment.ProcessId || pid == 1) continue;
            string? reason = null;
            if (members.Contains(pid)) reason = $"in cgroup {state.Cgroup switch { CgroupMatch.NetCls n => n.Path, CgroupMatch.V2 v => v.Path, _ => "" }}";
            else if (state.Mode == GateMode.Protected && state.Uids.Count > 0 && EffectiveUid(pid) is { } uid && state.Uids.Contains(uid))
                reason = $"uid {uid.ToString(CultureInfo.InvariantCulture)}";
            if (reason is null) continue;
            if (NetnsOf(pid.ToString(CultureInfo.InvariantCulture)) != ownNetns) continue;
            if (IsKernelThread(pid)) continue;
            apps.Add(new ProtectedApp(pid, Comm(pid), reason));
        }
        return apps;
    }

    /// <summary>SIGTERM to each, then SIGKILL to those still alive after <paramref name="grace"/>. Returns the PIDs that were still alive for SIGKILL.</summary>
    public static IReadOnlyList<int> Kill(IReadOnlyList<ProtectedApp> apps, TimeSpan grace)
    {
        ArgumentNullException.ThrowIfNull(apps);
        foreach (var app in apps) _ = SendSignal(app.Pid, SigTerm);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < grace && apps.Any(a => Alive(a.Pid))) Thread.Sleep(50);
        var killed = apps.Where(a => Alive(a.Pid)).Select(a => a.Pid).ToArray();
        foreach (int pid in killed) _ = SendSignal(pid, SigKill);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(2) && killed.Any(Alive)) Thread.Sleep(20);
        return killed;
    }

    /// <summary>A process that exists and is not a zombie waiting for its parent.</summary>
    public static bool Alive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] != 'Z' && stat[close + 2] != 'X';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static uint? EffectiveUid(int pid)
    {
        foreach (string line in ReadLines($"/proc/{pid}/status"))
        {
            if (!line.StartsWith("Uid:", StringComparison.Ordinal)) continue;
            var f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
            return f.Length > 2 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out uint uid) ? uid : null;
        }
        return null;
    }

    private static bool IsKernelThread(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").LinkTarget is null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    private static string Comm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }

    private static string? NetnsOf(string pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/ns/net").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string[] ReadLines(string file)
    {
        try
        {
            return File.ReadAllLines(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private const int SigTerm = 15;
    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
