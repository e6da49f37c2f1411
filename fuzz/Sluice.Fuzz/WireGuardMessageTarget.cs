using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Fuzz;

/// <summary>WireGuard datagrams into a responder's Decapsulate (the body lives in Sluice.Core so tests can run it).</summary>
public static class WireGuardMessageTarget
{
    public static void Run(ReadOnlySpan<byte> data) => WireGuardFuzzTarget.Run(data);
}
