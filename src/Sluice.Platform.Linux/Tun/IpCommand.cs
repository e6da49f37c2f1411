using System.Diagnostics;
using System.Text;
using Sluice.Platform.Linux.Native;
using Sluice.Platform.Linux.Network;

namespace Sluice.Platform.Linux;

/// <summary>What a finished command printed and returned.</summary>
public sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// Runs iproute2 and nftables. Every platform change goes through here. With <c>netns</c> null (the engine, which
/// runs inside its namespace) the work is done in process: link, address, route and rule operations as rtnetlink
/// requests (<see cref="RtnetlinkSocket"/>), nftables scripts through libnftables (<see cref="Nftables"/>), so the
/// start spawns no process. <c>netns</c> non-null (tests, the testbed) runs the programs inside that named
/// namespace (<c>ip -n NS -batch</c>, <c>ip netns exec NS nft -f</c>): one process per batch, commands on stdin.
/// Either way a script is applied in one step and a failure names the line and what the kernel or tool said.
/// <c>SLUICE_PLATFORM_PROGRAMS=1</c> makes the engine run the programs too (a fallback, and the A/B in tests).
/// </summary>
public static class IpCommand
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>The engine runs ip/nft programs instead of speaking netlink itself (SLUICE_PLATFORM_PROGRAMS=1).</summary>
    public static bool ProgramsOnly { get; } = Environment.GetEnvironmentVariable("SLUICE_PLATFORM_PROGRAMS") == "1";

    /// <summary>Why nftables changes of the engine run the nft program instead of libnftables (null when they do not).</summary>
    public static string? InProcessNftablesUnavailable => ProgramsOnly ? null : Nftables.UnavailableReason;

    /// <summary>
    /// Applies typed operations: in process over rtnetlink when <paramref name="netns"/> is null, else as
    /// <c>ip -n NS [-4|-6] [-force] -batch</c>. Same semantics and the same error text either way.
    /// </summary>
    /// <param name="family">4 or 6 for rules (a batch line cannot carry it); 0 when no rule is in the batch.</param>
    public static CommandResult Apply(IReadOnlyList<NetworkOperation> operations, string? netns = null, int family = 0, bool force = false, bool throwOnError = true)
    {
        if (operations.Count == 0) return new CommandResult(0, "", "");
        if (netns is not null || ProgramsOnly)
            return IpBatch(NetworkOperation.RenderBatch(operations), netns, family, force, throwOnError);
        try
        {
            using var socket = new RtnetlinkSocket();
            socket.Apply(operations, force);
            return new CommandResult(0, "", "");
        }
        catch (InvalidOperationException e) when (!throwOnError)
        {
            return new CommandResult(1, "", e.Message);
        }
    }

    /// <summary>Runs <c>ip [-n NS] [-4|-6] [-force] -batch -</c> with <paramref name="script"/> on stdin.</summary>
    /// <param name="family">4, 6, or 0 for ip's default.</param>
    /// <param name="force">Keep going after a failing line (used to remove what may already be gone).</param>
    public static CommandResult IpBatch(string script, string? netns = null, int family = 0, bool force = false, bool throwOnError = true)
    {
        var args = new List<string>();
        if (netns is not null) args.AddRange(["-n", netns]);
        if (family == 4) args.Add("-4");
        else if (family == 6) args.Add("-6");
        if (force) args.Add("-force");
        args.AddRange(["-batch", "-"]);
        var result = Run("ip", args, script);
        if (throwOnError && !result.Succeeded)
            throw new InvalidOperationException(
                $"ip -batch failed at \"{FailedBatchLine(script, result.Stderr)}\"{InNamespace(netns)}: {result.Stderr.Trim()}");
        return result;
    }

    /// <summary>Runs one <c>ip</c> command, e.g. <c>["-6", "rule", "del", "pref", "9000"]</c>.</summary>
    public static CommandResult Ip(IReadOnlyList<string> args, string? netns = null, bool throwOnError = true)
    {
        var all = new List<string>();
        if (netns is not null) all.AddRange(["-n", netns]);
        all.AddRange(args);
        var result = Run("ip", all, null);
        if (throwOnError && !result.Succeeded)
            throw new InvalidOperationException($"\"ip {string.Join(' ', all)}\" failed: {result.Stderr.Trim()}");
        return result;
    }

    /// <summary>Applies an nftables script atomically with <c>nft -f -</c>.</summary>
    public static CommandResult Nft(string script, string? netns = null, bool throwOnError = true)
    {
        var result = (netns is null && !ProgramsOnly ? Nftables.Run(script) : null) ?? InNetns(netns, "nft", ["-f", "-"], script);
        if (throwOnError && !result.Succeeded)
            throw new InvalidOperationException(
                $"nft -f failed{InNamespace(netns)}: {result.Stderr.Trim()}\n--- script ---\n{script}");
        return result;
    }

    /// <summary>
    /// Runs <c>nft [-s] [-j] COMMAND…</c> (a listing): through libnftables when <paramref name="netns"/> is null and
    /// the library is there, else the program. Leading <c>-s</c>/<c>-j</c> are the output flags.
    /// </summary>
    public static CommandResult NftCommand(IReadOnlyList<string> args, string? netns = null)
    {
        if (netns is null && !ProgramsOnly && Nftables.Available)
        {
            uint flags = 0;
            int first = 0;
            for (; first < args.Count && args[first].StartsWith('-'); first++)
                flags |= args[first] switch
                {
                    "-s" => Nftables.OutputStateless,
                    "-j" => Nftables.OutputJson,
                    _ => throw new ArgumentException($"nft option {args[first]} has no libnftables flag here", nameof(args)),
                };
            if (Nftables.Run(string.Join(' ', args.Skip(first)), flags) is { } result) return result;
        }
        return InNetns(netns, "nft", args);
    }

    /// <summary>Runs <paramref name="file"/> directly, or under <c>ip netns exec NS</c> when a namespace is given.</summary>
    public static CommandResult InNetns(string? netns, string file, IReadOnlyList<string> args, string? stdin = null)
    {
        if (netns is null) return Run(file, args, stdin);
        var all = new List<string> { "netns", "exec", netns, file };
        all.AddRange(args);
        return Run("ip", all, stdin);
    }

    /// <summary>Runs a program, feeding <paramref name="stdin"/>; a missing program is an exception that names it.</summary>
    public static CommandResult Run(string file, IReadOnlyList<string> args, string? stdin)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"could not start \"{file}\"");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"cannot run \"{file}\": {e.Message}; install it (Debian: apt-get install iproute2 nftables)", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            try
            {
                if (stdin is not null) process.StandardInput.Write(stdin);
            }
            catch (IOException)
            {
                // The tool exited before reading all of stdin; its stderr says why.
            }
            finally
            {
                try { process.StandardInput.Close(); } catch (IOException) { }
            }

            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"\"{file} {string.Join(' ', args)}\" did not finish within {Timeout.TotalSeconds:0} s");
            }
            return new CommandResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
        }
    }

    /// <summary>ip -batch reports "Command failed -:N"; return line N of the script, or the whole script.</summary>
    internal static string FailedBatchLine(string script, string stderr)
    {
        const string Marker = "Command failed -:";
        int at = stderr.LastIndexOf(Marker, StringComparison.Ordinal);
        if (at >= 0)
        {
            var digits = new StringBuilder();
            for (int i = at + Marker.Length; i < stderr.Length && char.IsAsciiDigit(stderr[i]); i++) digits.Append(stderr[i]);
            if (int.TryParse(digits.ToString(), out int line))
            {
                var lines = script.Split('\n');
                if (line >= 1 && line <= lines.Length) return lines[line - 1].Trim();
            }
        }
        return script.Trim().Replace('\n', ';');
    }

    private static string InNamespace(string? netns) => netns is null ? "" : $" in netns {netns}";
}
