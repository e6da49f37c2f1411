using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux;

/// <summary>
/// uid → user name through the system's user database (<c>getpwuid_r</c>, so NSS sources such as
/// LDAP count too), cached: a rule's <c>user</c> item is evaluated per flow. A uid with no entry is
/// cached as null. Thread-safe.
/// </summary>
internal static partial class UserNames
{
    /// <summary>Bound on cached uids, so a host with churning ids cannot grow the map without limit.</summary>
    private const int MaxCached = 4096;

    /// <summary>getpwuid_r's string buffer; sysconf(_SC_GETPW_R_SIZE_MAX) is typically 1024.</summary>
    private const int BufferSize = 4096;

    /// <summary>struct passwd is 48 bytes on 64-bit Linux; pw_name is its first field.</summary>
    private const int PasswdSize = 64;

    private static readonly ConcurrentDictionary<uint, string?> Cache = new();

    public static string? Of(uint uid)
    {
        if (Cache.TryGetValue(uid, out string? name)) return name;
        name = Lookup(uid);
        if (Cache.Count >= MaxCached) Cache.Clear();
        Cache[uid] = name;
        return name;
    }

    private static unsafe string? Lookup(uint uid)
    {
        byte* passwd = stackalloc byte[PasswdSize];
        byte* buffer = stackalloc byte[BufferSize];
        nint result;
        if (GetPwUidR(uid, passwd, buffer, BufferSize, &result) != 0 || result == 0) return null;
        byte* namePointer = *(byte**)passwd;
        return namePointer == null ? null : Marshal.PtrToStringUTF8((nint)namePointer);
    }

    [LibraryImport("libc", EntryPoint = "getpwuid_r")]
    private static unsafe partial int GetPwUidR(uint uid, byte* passwd, byte* buffer, nuint bufferLength, nint* result);
}
