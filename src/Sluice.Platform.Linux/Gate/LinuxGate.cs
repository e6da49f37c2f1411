using System.Text.Json;
using Sluice.Core.Gate;

namespace Sluice.Platform.Linux;

/// <summary>
/// Applies <see cref="GateRenderer"/>'s table with one <c>nft -f</c> (one transaction) and reads its
/// state back from the kernel. <c>netns</c> non-null works inside that named namespace (tests; the
/// gate is per network namespace); the CLI runs inside its namespace already and passes null.
/// Unlike the routes it is never removed by the engine: stop, crash and SIGKILL leave it in place; only an
/// explicit disable opens it.
/// </summary>
public sealed class LinuxGate
{
    private readonly string? _netns;

    public LinuxGate(string? netns = null) => _netns = netns;

    public void Apply(GatePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Options.Mode == GateMode.Off)
            throw new InvalidOperationException("gate mode is off: nothing to load (use `sluice gate disable` to open a loaded gate)");
        LinuxTunDevice.ValidateName(plan.TunName);
        IpCommand.Nft(GateRenderer.Render(plan), _netns);
    }

    public void Remove() => IpCommand.Nft(GateRenderer.RenderRemove(), _netns);

    public GateState? Read()
    {
        // nft 1.0.6's JSON output leaves table comments out, so the text form is read.
        if (List() is not { } text) return null; // "No such file or directory": not loaded
        return GateState.Parse(text) ?? new GateState(GateMode.Off, 0, "", [], null, false);
    }

    /// <summary>The full ruleset text of the table, for status and tests; null when absent.</summary>
    public string? List()
    {
        var result = IpCommand.NftCommand(["list", "table", "inet", GateDefaults.Table], _netns);
        return result.Succeeded ? result.Stdout : null;
    }

    /// <summary>Packets the held chain has dropped (its counter); 0 when not loaded.</summary>
    public long DroppedPackets()
    {
        var result = IpCommand.NftCommand(["-j", "list", "chain", "inet", GateDefaults.Table, "held"], _netns);
        if (!result.Succeeded) return 0;
        long total = 0;
        using var doc = JsonDocument.Parse(result.Stdout);
        foreach (var item in doc.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (!item.TryGetProperty("rule", out var rule)) continue;
            foreach (var expr in rule.GetProperty("expr").EnumerateArray())
                if (expr.TryGetProperty("counter", out var counter) && counter.TryGetProperty("packets", out var p)) total += p.GetInt64();
        }
        return total;
    }
}
