namespace Sluice.Core.Gate;

/// <summary>
/// The fail-shut gate of a platform. Unlike <see cref="Tun.IRouteTable"/> it is never removed by the
/// engine: stop, crash and SIGKILL leave it in place; only an explicit disable opens it.
/// </summary>
public interface IGate
{
    /// <summary>Loads (or atomically replaces) the gate for this plan. Idempotent.</summary>
    void Apply(GatePlan plan);

    /// <summary>Opens the gate: removes it entirely. Succeeds when nothing is loaded.</summary>
    void Remove();

    /// <summary>What the loaded gate holds; null when no Sluice gate is loaded.</summary>
    GateState? Read();
}
