using System.Globalization;
using Sluice.Core.Gate;

namespace Sluice.Platform.Linux;

/// <summary>
/// The protected cgroup: where <c>sluice exec --lane protected</c> puts a process so the kernel can
/// tell its sockets apart with no engine running.
/// - Pure cgroup v2 (cgroup2 mounted at /sys/fs/cgroup): <c>socket cgroupv2</c> matches the path.
///   nft resolves that path under /sys/fs/cgroup only, so it cannot be used on hybrid hosts.
/// - Otherwise cgroup v1 net_cls: the cgroup's <c>net_cls.classid</c> is copied to every socket
///   its processes create and nft matches it with <c>meta cgroup</c>. The controller is mounted
///   at /sys/fs/cgroup/net_cls when no hierarchy has it yet.
/// The hierarchy is host-wide (not per network namespace): tests use their own paths.
/// </summary>
public static class ProtectedCgroup
{
    private const string Root = "/sys/fs/cgroup";
    private const string NetClsMountPoint = "/sys/fs/cgroup/net_cls";
    private const string FallbackMountPoint = "/run/sluice/net_cls";

    /// <summary>Creates the cgroup (and mounts net_cls if needed); returns how nft matches it.</summary>
    public static CgroupMatch Prepare(string path)
    {
        path = path.Trim('/');
        if (IsPureV2())
        {
            Directory.CreateDirectory(Path.Combine(Root, path));
            return new CgroupMatch.V2(path);
        }
        string mount = NetClsMount() ?? MountNetCls();
        string dir = Path.Combine(mount, path);
        Directory.CreateDirectory(dir);
        string classId = GateDefaults.NetClsClassId.ToString(CultureInfo.InvariantCulture);
        if (File.ReadAllText(Path.Combine(dir, "net_cls.classid")).Trim() != classId)
            File.WriteAllText(Path.Combine(dir, "net_cls.classid"), classId);
        return new CgroupMatch.NetCls(path, GateDefaults.NetClsClassId);
    }

    /// <summary>Moves a process into the cgroup; its sockets created from now on are held.</summary>
    public static void Add(CgroupMatch cgroup, int pid)
    {
        string dir = DirectoryOf(cgroup) ?? throw new InvalidOperationException(
            $"the protected cgroup {Describe(cgroup)} does not exist: load the gate first (`sluice gate apply -c CONFIG`)");
        File.WriteAllText(Path.Combine(dir, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>PIDs in the cgroup and its descendants (host-wide).</summary>
    public static IReadOnlyList<int> Members(CgroupMatch cgroup)
    {
        if (DirectoryOf(cgroup) is not { } dir) return [];
        var pids = new List<int>();
        foreach (string file in Directory.EnumerateFiles(dir, "cgroup.procs", SearchOption.AllDirectories))
        {
            foreach (string line in SafeReadLines(file))
                if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) pids.Add(pid);
        }
        return pids;
    }

    public static string Describe(CgroupMatch cgroup) => cgroup switch
    {
        CgroupMatch.NetCls n => $"\"{n.Path}\" (cgroup v1 net_cls, classid {GateRanges.Hex(n.ClassId)})",
        CgroupMatch.V2 v => $"\"{v.Path}\" (cgroup v2)",
        _ => "?",
    };

    private static string? DirectoryOf(CgroupMatch cgroup)
    {
        string? dir = cgroup switch
        {
            CgroupMatch.V2 v => Path.Combine(Root, v.Path.Trim('/')),
            CgroupMatch.NetCls n => Path.Combine(NetClsMount() ?? MountNetCls(), n.Path.Trim('/')),
            _ => null,
        };
        return dir is not null && Directory.Exists(dir) ? dir : null;
    }

    private static bool IsPureV2() => Mounts().Any(m => m.Point == Root && m.FsType == "cgroup2");

    /// <summary>Where a cgroup v1 hierarchy with the net_cls controller is mounted, if any.</summary>
    public static string? NetClsMount() =>
        Mounts().FirstOrDefault(m => m.FsType == "cgroup" && m.SuperOptions.Split(',').Contains("net_cls")).Point;

    /// <summary>
    /// Mounts the net_cls hierarchy (the same kernel hierarchy wherever it is mounted). Under
    /// <c>ip netns exec</c>, /sys is a fresh sysfs without /sys/fs/cgroup's tmpfs, so the fallback
    /// is /run/sluice/net_cls (that mount is private to the command's mount namespace).
    /// </summary>
    private static string MountNetCls()
    {
        string? failure = null;
        foreach (string point in new[] { NetClsMountPoint, FallbackMountPoint })
        {
            try
            {
                Directory.CreateDirectory(point);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failure = $"cannot create {point}: {e.Message}";
                continue;
            }
            var result = IpCommand.Run("mount", ["-t", "cgroup", "-o", "net_cls", "net_cls", point], null);
            if (result.Succeeded) return point;
            failure = $"mount -t cgroup -o net_cls at {point}: {result.Stderr.Trim()}";
        }
        throw new InvalidOperationException(
            $"cannot mount the cgroup v1 net_cls controller ({failure}); the protected lane needs net_cls " +
            "(hybrid cgroups) or a pure cgroup v2 host: use gate.uid or mode \"all\" instead");
    }

    private readonly record struct Mount(string Point, string FsType, string SuperOptions);

    /// <summary>/proc/self/mountinfo: "… mount-point … - fstype source super-options".</summary>
    private static IEnumerable<Mount> Mounts()
    {
        foreach (string line in SafeReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (dash < 5 || fields.Length < dash + 4) continue;
            yield return new Mount(fields[4].Replace("\\040", " ", StringComparison.Ordinal), fields[dash + 1], fields[dash + 3]);
        }
    }

    private static string[] SafeReadLines(string file)
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
}
