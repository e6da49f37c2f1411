using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux.Native;

/// <summary>Netlink socket calls, the nlmsghdr constants and the sock_diag wire constants (linux/netlink.h, linux/inet_diag.h).</summary>
internal static unsafe partial class Netlink
{
    private const string Lib = "libc";

    public const int AF_NETLINK = 16;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_RAW = 3;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int NETLINK_SOCK_DIAG = 4;

    public const ushort NLMSG_ERROR = 2;
    public const ushort NLMSG_DONE = 3;
    public const ushort SOCK_DIAG_BY_FAMILY = 20;
    // nlmsghdr flags (linux/netlink.h).
    public const ushort NLM_F_REQUEST = 0x1, NLM_F_ACK = 0x4, NLM_F_REPLACE = 0x100, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400, NLM_F_DUMP = 0x300;

    public const int NlMsgHeaderSize = 16;

    /// <summary>struct inet_diag_req_v2: family, protocol, ext, pad, states, inet_diag_sockid (48).</summary>
    public const int InetDiagReqV2Size = 56;

    /// <summary>struct inet_diag_msg: family, state, timer, retrans, sockid (48), expires, rqueue, wqueue, uid, inode.</summary>
    public const int InetDiagMsgSize = 72;

    // Offsets inside inet_diag_sockid (from its start).
    public const int SockIdSport = 0;
    public const int SockIdDport = 2;
    public const int SockIdSrc = 4;
    public const int SockIdDst = 20;
    public const int SockIdCookie = 40;

    // Offsets inside inet_diag_msg.
    public const int MsgFamily = 0;
    public const int MsgState = 1;
    public const int MsgSockId = 4;
    public const int MsgUid = 64;
    public const int MsgInode = 68;

    public static int Align(int length) => (length + 3) & ~3;

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "sendto", SetLastError = true)]
    public static partial nint SendTo(int fd, byte* buffer, nuint length, int flags, byte* address, uint addressLength);

    [LibraryImport(Lib, EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    /// <summary>The name of an interface of the calling thread's namespace; null when no interface has that index (any more).</summary>
    public static string? InterfaceName(int index)
    {
        var name = stackalloc byte[16]; // IF_NAMESIZE
        return IfIndexToName((uint)index, name) == 0 ? null : Marshal.PtrToStringUTF8((nint)name);
    }

    /// <summary>The index of an interface of the calling thread's namespace; 0 when there is none of that name.</summary>
    [LibraryImport(Lib, EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint InterfaceIndex(string name);

    [LibraryImport(Lib, EntryPoint = "if_indextoname")]
    private static partial nint IfIndexToName(uint index, byte* name);
}
