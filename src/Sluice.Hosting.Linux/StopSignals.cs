using System.Runtime.InteropServices;

namespace Sluice.Hosting.Linux;

/// <summary>
/// SIGINT and SIGTERM as the stop request of `sluice run` and `sluice daemon`, whatever the parent left.
/// A shell starts a background job (`sluice run … &amp;` in a script, a CI step, `nohup`) with SIGINT ignored, and
/// .NET leaves a signal that was ignored when its signal handling started ignored, registration or not: `kill -INT`
/// then did nothing and the engine outlived the stop its user asked for. An ignored SIGINT is made default again
/// before anything starts .NET's signal handling, so the registration below takes it.
/// </summary>
internal static partial class StopSignals
{
    private const int SigInt = 2;
    private const nint SigDefault = 0;
    private const nint SigIgnore = 1;

    /// <summary>
    /// Calls <paramref name="stop"/> on SIGINT or SIGTERM (once per signal, without the default exit) until disposed.
    /// Call first in the command, before anything writes to the console or starts a process.
    /// </summary>
    public static IDisposable Register(Action stop)
    {
        UnignoreSigint();
        var registrations = new[]
        {
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle),
        };
        return new Registrations(registrations);

        void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            stop();
        }
    }

    private static void UnignoreSigint()
    {
        // struct sigaction starts with the handler on every Linux libc; 256 bytes hold the whole struct.
        unsafe
        {
            byte* current = stackalloc byte[256];
            if (SigAction(SigInt, null, current) == 0 && *(nint*)current == SigIgnore) Signal(SigInt, SigDefault);
        }
    }

    private sealed class Registrations(PosixSignalRegistration[] registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in registrations) registration.Dispose();
        }
    }

    [LibraryImport("libc", EntryPoint = "sigaction")]
    private static unsafe partial int SigAction(int signal, byte* action, byte* old);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint Signal(int signal, nint handler);
}
