using System.Diagnostics;
using System.Runtime.InteropServices;
using Sluice.Core.Gate;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>
/// Keeps the loaded gate loaded while an engine or daemon runs. Debian's nftables.service (and any
/// `nft flush ruleset`) deletes every table; the gate is a property of the ruleset, so with it gone a
/// protected app would leave in the clear until the next boot.
/// 1. Remember the loaded table (<c>nft -s list</c>: without counters, so it loads back as it is).
/// 2. Listen to nf_tables' netlink group (NFNLGRP_NFTABLES): every ruleset change is an event, delivered
///    at once; a slow backstop check covers events lost to a full socket buffer.
/// 3. After an event: a Sluice gate is there → remember it (root may have applied another with consent);
///    it is gone or gutted (no held drop rule) → load the remembered one again, in one transaction, unless
///    `sluice gate disable` opened it (its marker, <see cref="MarkDisabled"/>, is newer than the last check).
/// </summary>
public sealed unsafe partial class GateWatch : IDisposable
{
    private const int NETLINK_NETFILTER = 12;

    /// <summary>NFNLGRP_NFTABLES (7) as a legacy nl_groups bit.</summary>
    private const uint NfTablesGroup = 1u << (7 - 1);

    private const string HeldDrop = "drop comment \"held: outside the tunnel\"";
    private static readonly TimeSpan Backstop = TimeSpan.FromSeconds(10);

    private readonly string? _netns;
    private readonly Action<string> _log;
    private readonly Thread _thread;
    private readonly int _fd;
    private volatile bool _stopping;
    private string _ruleset;
    private DateTime _checkedUtc;

    private GateWatch(string ruleset, string? netns, Action<string> log, int fd)
    {
        _ruleset = ruleset;
        _netns = netns;
        _log = log;
        _fd = fd;
        _checkedUtc = DateTime.UtcNow;
        _thread = new Thread(Loop) { IsBackground = true, Name = "sluice-gate-watch" };
        _thread.Start();
    }

    /// <summary>How many times the table was loaded again (tests, metrics).</summary>
    public int Restores { get; private set; }

    /// <summary>Starts watching the gate loaded now; null when none is loaded or netlink is refused.</summary>
    public static GateWatch? Start(string? netns, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (Listing(netns) is not { } loaded || !IsIntact(loaded)) return null;
        int fd = Netlink.Socket(Netlink.AF_NETLINK, Netlink.SOCK_RAW | Netlink.SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
        {
            log($"gate watch: cannot open a netfilter netlink socket (errno {Libc.LastError}); a flushed ruleset is not restored until the next start");
            return null;
        }
        var address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        *(ushort*)address = Netlink.AF_NETLINK;
        *(uint*)(address + 8) = NfTablesGroup;
        if (Bind(fd, address, 12) != 0)
        {
            log($"gate watch: cannot join nf_tables events (errno {Libc.LastError}); a flushed ruleset is not restored until the next start");
            Libc.Close(fd);
            return null;
        }
        // Subscribed first, then the copy: a flush in between is seen as an event.
        return new GateWatch(Replacing(loaded), netns, log, fd);
    }

    private void Loop()
    {
        var buffer = new byte[64 * 1024];
        var poll = new Libc.PollFd { Fd = _fd, Events = Libc.POLLIN };
        var lastCheck = Stopwatch.StartNew();
        while (!_stopping)
        {
            int ready = Libc.Poll(&poll, 1, 250);
            if (_stopping) break;
            if (ready > 0)
            {
                // Drain the burst (one nft transaction is many messages), then look once.
                fixed (byte* p = buffer)
                    while (Netlink.Recv(_fd, p, (nuint)buffer.Length, Libc.MSG_DONTWAIT) > 0)
                    {
                    }
            }
            else if (lastCheck.Elapsed < Backstop)
            {
                continue;
            }
            lastCheck.Restart();
            Check();
        }
    }

    /// <summary>One look at the table; restores it when it is gone or gutted.</summary>
    public void Check()
    {
        try
        {
            var now = DateTime.UtcNow;
            if (Listing(_netns) is { } listing && IsIntact(listing))
            {
                _ruleset = Replacing(listing);
            }
            else if (DisabledSince(_netns) is { } opened && opened >= _checkedUtc.AddSeconds(-1))
            {
                _log("gate watch: the gate was opened by `sluice gate disable`; not restoring it");
                _stopping = true;
            }
            else
            {
                var started = Stopwatch.StartNew();
                IpCommand.Nft(_ruleset, _netns);
                Restores++;
                _log($"gate watch: the gate table was removed or emptied (`nft flush ruleset`, nftables.service?); loaded it again in {started.ElapsedMilliseconds} ms");
            }
            _checkedUtc = now;
        }
        catch (InvalidOperationException e)
        {
            _log($"gate watch: {e.Message}");
        }
    }

    /// <summary>`sluice gate disable` leaves this marker, so a running watch lets the gate go.</summary>
    public static void MarkDisabled(string? netns)
    {
        string path = MarkerPath(netns);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(path, DateTime.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }

    private static DateTime? DisabledSince(string? netns)
    {
        string path = MarkerPath(netns);
        return File.Exists(path) ? File.GetLastWriteTimeUtc(path) : null;
    }

    /// <summary>One marker per network namespace (the gate is per namespace; /run is not).</summary>
    private static string MarkerPath(string? netns)
    {
        string ns = netns is null ? "/proc/self/ns/net" : Path.Combine("/run/netns", netns);
        string id = netns is null ? (new FileInfo(ns).LinkTarget ?? "self") : netns;
        string safe = new string(id.Where(char.IsAsciiLetterOrDigit).ToArray());
        return Path.Combine("/run/sluice", $"gate-disabled-{safe}");
    }

    private static string? Listing(string? netns)
    {
        var result = IpCommand.NftCommand(["-s", "list", "table", "inet", GateDefaults.Table], netns);
        return result.Succeeded ? result.Stdout : null;
    }

    /// <summary>A table Sluice wrote, with its held chain still dropping.</summary>
    private static bool IsIntact(string listing) => GateState.Parse(listing) is not null && listing.Contains(HeldDrop, StringComparison.Ordinal);

    private static string Replacing(string listing) => GateRenderer.RenderRemove() + listing;

    public void Dispose()
    {
        _stopping = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        Libc.Close(_fd);
    }

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, byte* address, uint length);
}
