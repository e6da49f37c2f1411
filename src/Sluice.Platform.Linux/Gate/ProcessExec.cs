using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux;

/// <summary>
/// Replaces the current process with a program (execvp), keeping its PID — and so its cgroup,
/// which is the point: <c>sluice exec</c> joins the protected cgroup, then becomes the app.
/// </summary>
public static unsafe partial class ProcessExec
{
    private const int SIGPIPE = 13;

    /// <summary>Returns only on failure, with a message that names the program.</summary>
    public static string Exec(IReadOnlyList<string> argv)
    {
        ArgumentNullException.ThrowIfNull(argv);
        if (argv.Count == 0) return "no program given";
        // .NET ignores SIGPIPE; an ignored disposition survives exec, so give the app the default back.
        _ = Signal(SIGPIPE, 0);
        var pointers = new nint[argv.Count + 1];
        try
        {
            for (int i = 0; i < argv.Count; i++) pointers[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
            fixed (nint* p = pointers)
            {
                _ = ExecVp((byte*)pointers[0], (byte**)p);
            }
            int errno = Marshal.GetLastPInvokeError();
            return $"cannot run \"{argv[0]}\": {Marshal.GetPInvokeErrorMessage(errno)}";
        }
        finally
        {
            foreach (nint ptr in pointers) if (ptr != 0) Marshal.FreeCoTaskMem(ptr);
        }
    }

    [LibraryImport("libc", EntryPoint = "execvp", SetLastError = true)]
    private static partial int ExecVp(byte* file, byte** argv);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint Signal(int signum, nint handler);
}
