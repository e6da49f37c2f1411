using System.Globalization;
using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux;

/// <summary>
/// Who <c>sluice exec</c> runs the app as. Joining the cgroup needs root, the app does not: after joining,
/// exec drops to the invoking user (<c>--user NAME|UID</c>, else sudo's SUDO_UID/SUDO_GID/SUDO_USER), with
/// that user's groups, before it becomes the app. Run as root without sudo and without --user, it stays root.
/// </summary>
public sealed unsafe partial record ExecUser(string? Name, uint Uid, uint Gid)
{
    /// <summary>The user to become; null = stay as we are.</summary>
    public static ExecUser? Resolve(string? option, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (option is not null) return Lookup(option) ?? throw new InvalidOperationException($"--user {option}: no such user in /etc/passwd");
        if (environment("SUDO_UID") is { } uidText && uint.TryParse(uidText, NumberStyles.None, CultureInfo.InvariantCulture, out uint uid))
        {
            uint gid = uint.TryParse(environment("SUDO_GID"), NumberStyles.None, CultureInfo.InvariantCulture, out uint g) ? g : uid;
            return new ExecUser(environment("SUDO_USER"), uid, gid);
        }
        return null;
    }

    /// <summary>A name or numeric uid from /etc/passwd.</summary>
    public static ExecUser? Lookup(string user)
    {
        foreach (string line in File.ReadLines("/etc/passwd"))
        {
            var f = line.Split(':');
            if (f.Length < 4) continue;
            if ((f[0] == user || f[2] == user)
                && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out uint uid)
                && uint.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out uint gid))
                return new ExecUser(f[0], uid, gid);
        }
        return uint.TryParse(user, NumberStyles.None, CultureInfo.InvariantCulture, out uint bare) ? new ExecUser(null, bare, bare) : null;
    }

    /// <summary>
    /// Groups, then gid, then uid (the order that leaves no way back to root). glibc applies set*id to every
    /// thread of the process. Throws when any step fails: running the app as root by accident is not an option.
    /// </summary>
    public void Become()
    {
        int groups = Name is not null ? InitGroups(Name, Gid) : SetGroups(0, null);
        if (groups != 0) throw new InvalidOperationException($"cannot set the groups of {Describe()}: errno {Marshal.GetLastPInvokeError()}");
        if (SetGid(Gid) != 0) throw new InvalidOperationException($"cannot become gid {Gid}: errno {Marshal.GetLastPInvokeError()}");
        if (SetUid(Uid) != 0) throw new InvalidOperationException($"cannot become uid {Uid}: errno {Marshal.GetLastPInvokeError()}");
    }

    public string Describe() => Name is null ? $"uid {Uid}" : $"{Name} (uid {Uid})";

    [LibraryImport("libc", EntryPoint = "initgroups", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InitGroups(string user, uint group);

    [LibraryImport("libc", EntryPoint = "setgroups", SetLastError = true)]
    private static partial int SetGroups(nuint size, uint* list);

    [LibraryImport("libc", EntryPoint = "setgid", SetLastError = true)]
    private static partial int SetGid(uint gid);

    [LibraryImport("libc", EntryPoint = "setuid", SetLastError = true)]
    private static partial int SetUid(uint uid);
}
