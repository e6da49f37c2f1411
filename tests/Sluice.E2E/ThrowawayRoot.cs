using System.Diagnostics;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A root filesystem to install packages into and throw away: a private mount namespace (unshare -m, held
/// open by one `sleep` this class starts) with an overlay over / whose upper layer is a tmpfs inside that
/// namespace, so nothing dpkg, postinst or a daemon writes ever reaches the host's disk. Commands enter it with
/// nsenter and chroot into the overlay, optionally in a network namespace (a testbed's client). Dispose kills
/// the holder by PID; the namespace, its tmpfs and overlay go with it; the empty mount point is removed.
/// </summary>
internal sealed class ThrowawayRoot : IDisposable
{
    public const string PackagesInside = "/mnt/sluice-packages";
    private readonly Process _holder;
    private readonly string _mountPoint;
    private readonly List<Process> _started = [];

    private ThrowawayRoot(Process holder, string mountPoint)
    {
        _holder = holder;
        _mountPoint = mountPoint;
    }

    /// <summary>The chroot directory as seen inside the namespace.</summary>
    private string Merged => Path.Combine(_mountPoint, "merged");

    /// <param name="packagesDir">A host folder bound read-only at <see cref="PackagesInside"/>.</param>
    public static ThrowawayRoot Create(string packagesDir)
    {
        string mountPoint = Directory.CreateTempSubdirectory("sluice-root-").FullName;
        string m = mountPoint;
        string setup = $"""
            set -e
            mount -t tmpfs -o size=1g tmpfs '{m}'
            mkdir '{m}/upper' '{m}/work' '{m}/merged'
            mount -t overlay overlay -o lowerdir=/,upperdir='{m}/upper',workdir='{m}/work' '{m}/merged'
            mount --rbind /proc '{m}/merged/proc'
            mount --rbind /sys '{m}/merged/sys'
            mount --rbind /dev '{m}/merged/dev'
            mkdir -p '{m}/merged{PackagesInside}'
            mount --bind '{packagesDir}' '{m}/merged{PackagesInside}'
            mount -o remount,bind,ro '{m}/merged{PackagesInside}'
            echo ready
            exec sleep 3600
            """;
        var holder = Exec.Start(["unshare", "--mount", "--propagation", "private", "sh", "-c", setup]);
        string? line = holder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        if (line != "ready")
        {
            Exec.Kill(holder);
            string error = holder.StandardError.ReadToEnd();
            Directory.Delete(mountPoint);
            throw new InvalidOperationException($"the throwaway root did not come up: {error}");
        }
        return new ThrowawayRoot(holder, mountPoint);
    }

    private string[] Enter(string script, string? netns) =>
        ["nsenter", $"--target={_holder.Id}", "--mount", .. netns is null ? Array.Empty<string>() : [$"--net=/run/netns/{netns}"],
            "chroot", Merged, "/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
            "DEBIAN_FRONTEND=noninteractive", "/bin/sh", "-c", script];

    /// <summary>Runs a shell script as root inside the root (and <paramref name="netns"/> when given).</summary>
    public ExecResult Run(string script, string? netns = null, TimeSpan? timeout = null) =>
        Exec.Run(timeout ?? TimeSpan.FromSeconds(120), Enter(script, netns));

    /// <summary>Starts a long-running command inside; it is killed (by PID) on Dispose if still running.</summary>
    public EngineProcess Start(string script, string? netns = null)
    {
        var process = Exec.Start(Enter("exec " + script, netns));
        _started.Add(process);
        return new EngineProcess(process);
    }

    public void Dispose()
    {
        foreach (var process in _started)
        {
            Exec.Kill(process);
            process.WaitForExit(5000);
        }
        Exec.Kill(_holder);
        _holder.WaitForExit(5000);
        // The namespace is gone with its last process; the mount point on the host was never mounted over.
        for (int attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                Directory.Delete(_mountPoint);
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(100);
            }
        }
    }
}
