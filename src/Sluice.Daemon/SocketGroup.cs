using System.Globalization;
using System.Runtime.InteropServices;

namespace Sluice.Daemon;

/// <summary>
/// The Unix socket is 0660 root:sluice: members of the "sluice" group (created by `sluice daemon install`)
/// drive the daemon without sudo; nobody else reaches it. Without the group the socket stays root:root.
/// </summary>
internal static partial class SocketGroup
{
    public const string Name = "sluice";

    /// <summary>The group's gid from /etc/group; null when there is no such group.</summary>
    public static uint? Gid()
    {
        if (!File.Exists("/etc/group")) return null;
        foreach (string line in File.ReadLines("/etc/group"))
        {
            var f = line.Split(':');
            if (f.Length >= 3 && f[0] == Name && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out uint gid)) return gid;
        }
        return null;
    }

    /// <summary>Gives the socket to the group; false when there is none (or chown failed), so it stays root's.</summary>
    public static bool Apply(string socketPath)
    {
        if (Gid() is not { } gid) return false;
        return Chown(socketPath, uint.MaxValue, gid) == 0; // (uid_t)-1: keep the owner
    }

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, uint owner, uint group);
}
