using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// Whose share of the hijacked DNS queries waiting for an upstream a query counts against
/// (<see cref="EngineLimits.PendingDnsPerOwner"/>):
/// 1. the uid owning the app's socket, when the kernel's socket table names it (one sock_diag request, no /proc
///    scan, so the packet thread can ask): every local app sends from the TUN's own address, so the address
///    alone would put all of them in one share, and one flooding app would silence every other's DNS;
/// 2. otherwise the querying address: a flow from another host (the engine as a gateway), or from a socket
///    that is already closed. Such queries share the address's bucket, never a uid's.
/// Apps of one user share that user's bucket: telling processes apart needs a /proc scan per new socket,
/// which the packet thread does not wait for.
/// </summary>
internal readonly record struct DnsQueryOwner
{
    private readonly uint _uid;
    private readonly NetAddress _address;

    private DnsQueryOwner(uint uid, NetAddress address, bool hasUid)
    {
        _uid = uid;
        _address = address;
        HasUid = hasUid;
    }

    /// <summary>True when the socket's uid was found; the bucket is then the uid's.</summary>
    public bool HasUid { get; }

    public static DnsQueryOwner OfUid(uint uid) => new(uid, default, hasUid: true);

    public static DnsQueryOwner OfAddress(NetAddress address) => new(0, address, hasUid: false);

    public override string ToString() => HasUid ? $"uid {_uid}" : $"{_address} (no local socket found)";
}
