using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Sluice.Testbed;

/// <summary>The result of a finished command.</summary>
public sealed record ExecResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public bool Ok => ExitCode == 0;

    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalMilliseconds:0} ms\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs commands for the testbed; every process started here is killed by PID, never by name.</summary>
public static partial class Exec
{
    public static ExecResult Run(TimeSpan timeout, params string[] argv)
    {
        var started = Stopwatch.StartNew();
        using var process = Start(argv, redirectInput: false);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            Kill(process);
            process.WaitForExit(2000);
            return new ExecResult(-1, Drain(stdout), Drain(stderr) + $"\n(killed after {timeout.TotalSeconds:0} s: {string.Join(' ', argv)})", started.Elapsed);
        }
        process.WaitForExit();
        return new ExecResult(process.ExitCode, stdout.Result, stderr.Result, started.Elapsed);
    }

    /// <summary>Runs and throws with the command and its stderr when it fails.</summary>
    public static string Check(params string[] argv)
    {
        var result = Run(TimeSpan.FromSeconds(30), argv);
        if (!result.Ok) throw new InvalidOperationException($"`{string.Join(' ', argv)}` failed: {result.Stderr.Trim()}{result.Stdout.Trim()}");
        return result.Stdout;
    }

    public static Process Start(string[] argv, bool redirectInput = false)
    {
        var info = new ProcessStartInfo(argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var arg in argv.Skip(1)) info.ArgumentList.Add(arg);
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {argv[0]}");
    }

    /// <summary>
    /// Kills a process this code started and everything it started (`sh -c "curl … | sha256sum"`: the
    /// shell's children too, or a timed-out pipeline keeps running).
    /// </summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>Sends a signal to a process this code started.</summary>
    public static void Signal(Process process, int signal)
    {
        if (!process.HasExited) _ = SendSignal(process.Id, signal);
    }

    /// <summary>Signals a process in a namespace this code created (see NamespaceTestbed.RemoveNamespace).</summary>
    internal static void Signal(int pid, int signal) => _ = SendSignal(pid, signal);

    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int SigInt = 2;

    private static string Drain(Task<string> task) => task.Wait(1000) ? task.Result : "";

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
