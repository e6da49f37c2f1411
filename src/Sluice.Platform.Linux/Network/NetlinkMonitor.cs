using System.Globalization;
using System.Runtime.InteropServices;
using Sluice.Core.Monitoring;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux.Network;

/// <summary>
/// Watches the host's links, addresses and main-table routes over rtnetlink multicast groups
/// (RTMGRP_LINK, IPV4/IPV6_IFADDR, IPV4/IPV6_ROUTE) on a dedicated thread, and raises
/// <see cref="Changed"/> for each one that is the host's, not Sluice's: events on the TUN (by name),
/// routes outside the main table (Sluice's table 5140, the local table) and route cache entries are ignored,
/// so the engine's own start does not look like a network change.
/// </summary>
public sealed unsafe partial class NetlinkMonitor : INetworkMonitor
{
    private const int NETLINK_ROUTE = 0;
    private const uint MainTable = 254;

    /// <summary>RTMGRP_LINK, IPV4_IFADDR, IPV4_ROUTE, IPV6_IFADDR, IPV6_ROUTE: every change the engine reacts to.</summary>
    public const uint AllGroups = 0x1 | 0x10 | 0x40 | 0x100 | 0x400;

    /// <summary>RTMGRP_IPV4_ROUTE and RTMGRP_IPV6_ROUTE only.</summary>
    public const uint RouteGroups = 0x40 | 0x400;

    private readonly uint _groups;

    private readonly Func<string?> _ignoredInterface;
    private readonly Dictionary<int, string> _names = new();
    private int _fd = -1;
    private Thread? _thread;
    private volatile bool _stopping;
    private readonly StopSignal _stop = new();

    /// <param name="ignoredInterface">The TUN's name now (null before the engine is up).</param>
    /// <param name="groups">The rtnetlink multicast groups to join (<see cref="AllGroups"/> unless told).</param>
    public NetlinkMonitor(Func<string?> ignoredInterface, uint groups = AllGroups)
    {
        _ignoredInterface = ignoredInterface;
        _groups = groups;
    }

    public event Action<string>? Changed;

    public void Start()
    {
        int fd = Netlink.Socket(Netlink.AF_NETLINK, Netlink.SOCK_RAW | Netlink.SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) throw new InvalidOperationException($"cannot open an rtnetlink socket (errno {Libc.LastError}); network changes will not be noticed");
        var address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        *(ushort*)address = Netlink.AF_NETLINK;
        *(uint*)(address + 8) = _groups;
        if (Bind(fd, address, 12) != 0)
        {
            int errno = Libc.LastError;
            Libc.Close(fd);
            throw new InvalidOperationException($"cannot join the rtnetlink groups (errno {errno})");
        }
        _fd = fd;
        _thread = new Thread(Loop) { IsBackground = true, Name = "sluice-netlink" };
        _thread.Start();
    }

    private void Loop()
    {
        var buffer = new byte[64 * 1024];
        while (!_stopping)
        {
            int ready = _stop.Wait(_fd, Libc.POLLIN, out short revents);
            if ((revents & Libc.POLLIN) == 0) continue;
            if (ready <= 0 || _stopping) continue;
            nint read;
            fixed (byte* p = buffer) read = Netlink.Recv(_fd, p, (nuint)buffer.Length, 0);
            if (read <= 0) continue; // ENOBUFS after a burst: the next event still triggers a change
            foreach (var e in RtnetlinkMessage.Parse(buffer.AsSpan(0, (int)read)))
                if (Describe(e) is { } reason) Changed?.Invoke(reason);
        }
    }

    /// <summary>The event as a line, or null when it is Sluice's own (TUN, its table) or not a configured route.</summary>
    public string? Describe(RtnetlinkEvent e)
    {
        if (e.Kind == "link" && e.InterfaceName is { } linkName) _names[e.InterfaceIndex] = linkName;
        string? name = e.InterfaceIndex == 0 ? null : NameOf(e.InterfaceIndex);
        string? tun = _ignoredInterface();
        if (tun is not null && name == tun) return null;
        if (e.Kind == "route" && (e.Table != MainTable || e.Cloned)) return null;
        if (e.Kind == "address" && e.Prefix is { } p && p.StartsWith("fe80:", StringComparison.OrdinalIgnoreCase)) return null;
        return name is null ? e.ToString() : e.ToString().Replace("#" + e.InterfaceIndex, name, StringComparison.Ordinal);
    }

    /// <summary>The interface's name now, else the last one seen (a deleted link's event comes after it is gone).</summary>
    private string? NameOf(int index) =>
        Netlink.InterfaceName(index) is { } name ? _names[index] = name : _names.GetValueOrDefault(index);

    /// <summary>The interface of the IPv4 default route with the lowest metric (/proc/net/route), else IPv6's; never the TUN.</summary>
    public string? PhysicalInterface()
    {
        try
        {
            string? best = null, tun = _ignoredInterface();
            long bestMetric = long.MaxValue;
            foreach (var line in File.ReadLines("/proc/net/route").Skip(1))
            {
                var f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                // /proc/net/route lists every table's routes: Sluice's own default via the TUN is not the physical one.
                if (f.Length < 8 || f[1] != "00000000" || f[7] != "00000000" || f[0] == tun) continue;
                long metric = long.Parse(f[6], CultureInfo.InvariantCulture);
                if (metric < bestMetric) (best, bestMetric) = (f[0], metric);
            }
            if (best is not null) return best;
            foreach (var line in File.ReadLines("/proc/net/ipv6_route"))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 10 && f[0] == new string('0', 32) && f[1] == "00" && f[9] != "lo" && f[9] != tun) return f[9];
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    public void Dispose()
    {
        _stopping = true;
        _stop.Raise();
        _thread?.Join(2000);
        _stop.Dispose();
        if (_fd >= 0) Libc.Close(_fd);
        _fd = -1;
    }

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, byte* address, uint length);
}
