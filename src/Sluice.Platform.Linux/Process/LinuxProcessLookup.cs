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
        Find(flow, scan: true, out var process);
        return process;
    }

    /// <summary>The same as <see cref="Find"/> without a /proc rescan: false when the socket's inode is not in the cached map.</summary>
    public bool TryFindCached(FlowKey flow, out ProcessInfo? process) => Find(flow, scan: false, out process);

    /// <summary>One sock_diag request: the socket's owner uid, without its process (no /proc access at all).</summary>
    public bool TryFindSocketUid(FlowKey flow, out uint uid)
    {
        var socket = SockDiag.Find(flow);
        uid = socket?.Uid ?? 0;
        return socket is not null;
    }

    private bool Find(FlowKey flow, bool scan, out ProcessInfo? process)
    {
        process = null;
        if (flow.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp)) return true;

        var socket = SockDiag.Find(flow);
        if (socket is not { } found) return true;
        string? user = UserNames.Of(found.Uid);
        int pid = 0;
        if (found.Inode != 0)
        {
            if (scan) pid = _index.FindPid(found.Inode);
            else if (!_index.TryFindPidCached(found.Inode, out pid)) return false;
        }
        process = pid <= 0
            ? new ProcessInfo(found.Uid, 0, null, null) { UserName = user }
            : new ProcessInfo(found.Uid, pid, ReadComm(pid), Libc.ReadLink($"/proc/{pid}/exe")) { UserName = user };
        return true;
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
