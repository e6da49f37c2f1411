using System.Text.RegularExpressions;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Network;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Routing;

/// <summary>
/// The engine's in-process path (netns null: rtnetlink requests and libnftables, run here on a thread inside a
/// test namespace) against the ip/nft programs (netns named): the same TUN setup and auto_route plan must leave
/// the kernel in the same state, and removal must leave nothing.
/// </summary>
public class InProcessRouteTableTests
{
    private const string Tun = "sltun0";

    private static readonly IpPrefix[] Addresses = [IpPrefix.Parse("10.77.0.1/30"), IpPrefix.Parse("fd77::1/64")];

    private static AutoRoutePlan Plan() => new(
        Tun, 2022, 0x2022, 9000, HasV4: true, HasV6: true,
        RouteAddress: [IpPrefix.Parse("10.0.0.0/8"), IpPrefix.Parse("0.0.0.0/1")],
        RouteExcludeAddress: [IpPrefix.Parse("10.99.0.0/16"), IpPrefix.Parse("fd99::/16")],
        StrictRoute: true)
    {
        // include_uid with include_interface too: their P-1 rest is one selector-less rule (the kernel's duplicate
        // check took "iif lo" and "not iif lo" for one rule, and the second add failed with EEXIST).
        Scope = new RouteScope([new UidRange(2000, 2000)], [new UidRange(1000, 1999)], ["lan2"], ["lan1"]),
    };

    /// <summary>Everything the TUN setup and auto_route touch, as the programs print it.</summary>
    private static string State(TestNamespace ns)
    {
        var nft = IpCommand.InNetns(ns.Name, "nft", ["list", "ruleset"]);
        string state = string.Join("\n---\n",
            ns.Ip("-d", "link", "show", Tun),
            ns.Ip("address", "show", "dev", Tun),
            ns.Ip("-4", "rule", "show"),
            ns.Ip("-6", "rule", "show"),
            ns.Ip("-4", "route", "show", "table", "all"),
            ns.Ip("-6", "route", "show", "table", "all"),
            nft.Stdout);
        // Lifetimes and link-layer counters tick; the rest must match exactly.
        return Regex.Replace(state, @"(valid_lft|preferred_lft) \S+", "$1 _");
    }

    private static LinuxTunDevice Up(TestNamespace ns, bool inProcess) => ns.Run(() =>
    {
        var tun = LinuxTunDevice.Create(Tun, 1420);
        TunInterfaceSetup.Configure(Tun, Addresses, 1420, inProcess ? null : ns.Name);
        return tun;
    });

    private static void Routes(TestNamespace ns, bool inProcess, Action<LinuxRouteTable> action) =>
        ns.Run(() => action(new LinuxRouteTable(inProcess ? null : ns.Name)));

    [Fact]
    public void InProcess_TunSetupAndAutoRoute_LeaveTheSameKernelStateAsTheIpAndNftPrograms_AndRemoveLeavesNothing()
    {
        Assert.True(Native.Nftables.Available, Native.Nftables.UnavailableReason);
        using var programs = new TestNamespace();
        using var inProcess = new TestNamespace();
        using var tunA = Up(programs, inProcess: false);
        using var tunB = Up(inProcess, inProcess: true);
        string empty = State(inProcess);
        Routes(programs, false, r => r.Apply(Plan()));
        Routes(inProcess, true, r => r.Apply(Plan()));
        string expected = State(programs);
        Assert.Contains("uidrange 1000-1999", expected); // the plan did install something
        Assert.Contains("sluice_route", expected);
        Assert.Equal(expected, State(inProcess));

        Routes(inProcess, true, r => r.Apply(Plan())); // twice: the same state, no duplicate rule
        Assert.Equal(expected, State(inProcess));

        Routes(inProcess, true, r => r.Remove(Plan()));
        Assert.Equal(empty, State(inProcess));
    }

    [Fact]
    public void InProcess_RemoveStale_ClearsWhatAKilledRunLeft_IncludingStackedDuplicates()
    {
        using var ns = new TestNamespace();
        using var tun = Up(ns, inProcess: true);
        string empty = State(ns);
        Routes(ns, false, r => r.Apply(Plan())); // the killed run
        ns.Ip("-4", "rule", "add", "pref", "9000", "lookup", "2022"); // a crash loop's stacked copies (of older versions)
        ns.Ip("-4", "rule", "add", "pref", "9000", "fwmark", "0x5", "lookup", "2022");
        ns.Ip("-6", "rule", "add", "pref", "8999", "lookup", "main");
        Assert.NotEqual(empty, State(ns));
        Routes(ns, true, r => r.RemoveStale(Plan()));
        Assert.Equal(empty, State(ns));
        Routes(ns, true, r => r.RemoveStale(Plan())); // nothing there: still fine
        Routes(ns, true, r => r.Remove(Plan()));
        Assert.Equal(empty, State(ns));
    }

    [Fact]
    public void InProcess_AFailedRequest_NamesItsLineAndTheKernelsError_AndStopsTheBatch()
    {
        using var ns = new TestNamespace();
        using var tun = Up(ns, inProcess: true);
        var route = new RouteOperation(RouteVerb.Add, RouteKind.Unicast, IpPrefix.Parse("192.0.2.0/24"), Tun, 2022);
        var after = new RouteOperation(RouteVerb.Add, RouteKind.Unicast, IpPrefix.Parse("198.51.100.0/24"), Tun, 2022);
        var e = Assert.Throws<InvalidOperationException>(() => ns.Run(() => IpCommand.Apply([route, route, after])));
        Assert.Equal("ip -batch failed at \"route add 192.0.2.0/24 dev sltun0 table 2022\": File exists", e.Message);
        Assert.DoesNotContain("198.51.100.0", ns.Ip("-4", "route", "show", "table", "2022"));

        var missing = new AddressOperation(IpPrefix.Parse("10.1.1.1/24"), "nosuchdev0");
        e = Assert.Throws<InvalidOperationException>(() => ns.Run(() => IpCommand.Apply([missing])));
        Assert.Contains("address replace 10.1.1.1/24 dev nosuchdev0", e.Message);
        // The same request through the program fails with the same first words.
        var program = Assert.Throws<InvalidOperationException>(() => IpCommand.Apply([route], ns.Name));
        Assert.StartsWith("ip -batch failed at \"route add 192.0.2.0/24 dev sltun0 table 2022\"", program.Message);
    }

    [Fact]
    public void InProcess_NftablesScript_IsOneTransaction_AndAnErrorIsReported()
    {
        using var ns = new TestNamespace();
        // The second table's rule is invalid: nothing of the script may be committed.
        var bad = ns.Run(() => IpCommand.Nft("table inet sl_a {}\ntable inet sl_b { chain c { nosuchexpr } }\n", throwOnError: false));
        Assert.False(bad.Succeeded);
        Assert.StartsWith("Error: syntax error", bad.Stderr);
        Assert.DoesNotContain("sl_a", IpCommand.InNetns(ns.Name, "nft", ["list", "tables"]).Stdout);
        ns.Run(() => IpCommand.Nft("table inet sl_a {}\n"));
        Assert.Contains("table inet sl_a", ns.Run(() => IpCommand.NftCommand(["list", "tables"]).Stdout));
        Assert.Contains("table inet sl_a", IpCommand.InNetns(ns.Name, "nft", ["list", "tables"]).Stdout);
    }

    /// <summary>
    /// libnftables select()s on its netlink socket, and glibc aborts the process when that descriptor is 1024 or above:
    /// an engine relaying ~500 connections has that many open. Its scripts and listings must still work, not kill it.
    /// </summary>
    [Fact]
    public void NftablesScriptAndListing_WithOver1024DescriptorsOpen_WorkInsteadOfAbortingTheProcess()
    {
        using var ns = new TestNamespace();
        var held = new List<Microsoft.Win32.SafeHandles.SafeFileHandle>();
        try
        {
            while (Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() < 1100)
                held.Add(File.OpenHandle("/dev/null"));
            ns.Run(() => IpCommand.Nft("table inet sl_many {}\n"));
            Assert.Contains("table inet sl_many", ns.Run(() => IpCommand.NftCommand(["list", "tables"]).Stdout));
        }
        finally
        {
            foreach (var handle in held) handle.Dispose();
        }
    }
}
