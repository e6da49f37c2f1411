using Sluice.Core.Flows;
using Sluice.Packets;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>
/// Finds the process behind a flow:
/// 1. sock_diag dump filtered by the flow's ports → the socket's uid and inode;
/// 2. inode → pid from a cached map of <c>/proc/*/fd</c> socket links, rescanned on a miss;
/// 3. name from <c>/proc/PID/comm</c>, path from the <c>/proc/PID/exe</c> link, the uid's user name from the user database.
/// Thread-safe. ICMP and other protocols have no socket to find: null.
/// </summary>
public sealed class LinuxProcessLookup : IProcessLookup
{
    private readonly ProcSocketIndex _index = new();

    /// <summary>How many times /proc has been scanned for socket fds.</summary>
    public int ProcScans => _index.Scans;

    public ProcessInfo? Find(FlowKey flow)
    {
        if (flow.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp)) return null;

        var socket = SockDiag.Find(flow);
        if (socket is not { } found) return null;
        string? user = UserNames.Of(found.Uid);
        if (found.Inode == 0) return new ProcessInfo(found.Uid, 0, null, null) { UserName = user };

        int pid = _index.FindPid(found.Inode);
        if (pid <= 0) return new ProcessInfo(found.Uid, 0, null, null) { UserName = user };
        return new ProcessInfo(found.Uid, pid, ReadComm(pid), Libc.ReadLink($"/proc/{pid}/exe")) { UserName = user };
    }

    private static string? ReadComm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // the process exited between the lookup and now
        }
    }
}
