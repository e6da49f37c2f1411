using Sluice.Packets;

namespace Sluice.Core.Flows;

/// <summary>The local process that owns a flow's socket.</summary>
/// <param name="Uid">Owner uid of the socket.</param>
/// <param name="Pid">Process id, 0 when no process holding the socket was found.</param>
/// <param name="Name">The process name (<c>comm</c>), null when unknown.</param>
/// <param name="Path">The executable path (<c>exe</c>), null when unknown.</param>
public sealed record ProcessInfo(uint Uid, int Pid, string? Name, string? Path)
{
    /// <summary>The owning user's name (the system's passwd entry for <see cref="Uid"/>); null when unnamed or not looked up.</summary>
    public string? UserName { get; init; }
}

/// <summary>Finds the process behind a flow seen on the TUN (source = the local app's socket).</summary>
public interface IProcessLookup
{
    /// <summary>Returns null when no socket matches the flow (it may already be closed).</summary>
    ProcessInfo? Find(FlowKey flow);

    /// <summary>
    /// Answers only when that is quick (the kernel's socket table and what is cached; no scan of every
    /// process): the packet thread asks this, and a flow it cannot answer waits while <see cref="Find"/>
    /// runs on a worker. Returns false when only <see cref="Find"/> can answer; by default always.
    /// </summary>
    bool TryFindCached(FlowKey flow, out ProcessInfo? process)
    {
        process = null;
        return false;
    }

    /// <summary>
    /// The uid owning the flow's local socket, when that is quick (the kernel's socket table, no scan of every
    /// process): the DNS hijack asks this on the packet thread to give each user its own share of the queries
    /// waiting for an upstream. False when no local socket is found (the flow came from another host, or the
    /// socket is closed already); by default whatever <see cref="TryFindCached"/> can say.
    /// </summary>
    bool TryFindSocketUid(FlowKey flow, out uint uid)
    {
        bool found = TryFindCached(flow, out var process) && process is not null;
        uid = found ? process!.Uid : 0;
        return found;
    }
}

/// <summary><see cref="IProcessLookup.TryFindCached"/> as a delegate.</summary>
internal delegate bool CachedProcessLookup(FlowKey flow, out ProcessInfo? process);
