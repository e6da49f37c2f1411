using Sluice.Core.Gate;
using Sluice.Core.Tun;
using Sluice.Packets;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Gate;

/// <summary>The gate applied for real, in a namespace of the test's own (never the host's).</summary>
public sealed class LinuxGateTests : IDisposable
{
    private readonly TestNamespace _ns = new();

    private static GatePlan Plan(GateMode mode, params uint[] uids) => new(
        new GateOptions(mode, uids, null, true, [NetAddress.Parse("9.9.9.9")]),
        0x534c, "sluice0", [IpPrefix.Parse("172.19.0.1/30"), IpPrefix.Parse("fdfe:dcba:9876::1/126")], null);

    [Fact]
    public void ApplyTwice_ChangesNothing()
    {
        var gate = new LinuxGate(_ns.Name);
        gate.Apply(Plan(GateMode.Protected, 1000, 1001));
        string first = gate.List()!;
        gate.Apply(Plan(GateMode.Protected, 1000, 1001));
        Assert.Equal(first, gate.List());
        Assert.Single(IpCommand.InNetns(_ns.Name, "nft", ["list", "tables"]).Stdout.Split('\n'), l => l.Contains("inet sluice", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_GivesBackWhatWasApplied()
    {
        var gate = new LinuxGate(_ns.Name);
        Assert.Null(gate.Read());
        gate.Apply(Plan(GateMode.Protected, 1000, 64123));
        var state = gate.Read();
        Assert.NotNull(state);
        Assert.Equal(GateMode.Protected, state.Mode);
        Assert.Equal([1000u, 64123u], state.Uids);
        Assert.Equal(0x534cu, state.FwMark);
        Assert.Equal("sluice0", state.TunName);
        Assert.True(state.AllowLan);
    }

    [Fact]
    public void Apply_ReplacesAnotherMode_AndRemoveLeavesNothing()
    {
        var gate = new LinuxGate(_ns.Name);
        gate.Apply(Plan(GateMode.All));
        Assert.Contains("hook forward", gate.List());
        gate.Apply(Plan(GateMode.Protected, 1000));
        Assert.DoesNotContain("hook forward", gate.List());
        gate.Remove();
        Assert.Null(gate.List());
        gate.Remove(); // removing an open gate is fine
    }

    [Fact]
    public void EngineRouteTable_RemoveStale_LeavesTheGateAlone()
    {
        // What a killed engine leaves: its policy rules, its route table and its nftables table
        // (an unowned TUN device stands in for the engine's).
        IpCommand.InNetns(_ns.Name, "ip", ["tuntap", "add", "sluice0", "mode", "tun"]);
        IpCommand.InNetns(_ns.Name, "ip", ["link", "set", "sluice0", "up"]);
        var plan = new AutoRoutePlan("sluice0", 5140, 0x534c, 9100, true, true, [], [], false);
        var routes = new LinuxRouteTable(_ns.Name);
        routes.Apply(plan);
        Assert.Contains("lookup 5140", IpCommand.InNetns(_ns.Name, "ip", ["rule", "list"]).Stdout, StringComparison.Ordinal);
        var gate = new LinuxGate(_ns.Name);
        gate.Apply(Plan(GateMode.All));
        string applied = gate.List()!;

        routes.RemoveStale(plan);

        // The stale engine state is gone...
        Assert.DoesNotContain("lookup 5140", IpCommand.InNetns(_ns.Name, "ip", ["rule", "list"]).Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("sluice_route", IpCommand.InNetns(_ns.Name, "nft", ["list", "tables"]).Stdout, StringComparison.Ordinal);
        // ...and the gate is exactly as it was applied.
        Assert.Equal(applied, gate.List());
    }

    public void Dispose() => _ns.Dispose();
}
