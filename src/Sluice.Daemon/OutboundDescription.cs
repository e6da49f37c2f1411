using Sluice.Control;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Daemon;

/// <summary>
/// An outbound as the status answer lists it (group with its members and current choice, WireGuard peers).
/// One source for the daemon and libsluice: Sluice.Native compiles this file in too, because it must not load
/// the daemon's assembly (ASP.NET) to answer sluice_status.
/// </summary>
internal static class OutboundDescription
{
    public static OutboundInfo Of(IOutbound outbound)
    {
        var group = EngineViews.Group(outbound);
        return new OutboundInfo(outbound.Tag, group?.Type ?? outbound.Type)
        {
            Now = group?.Now,
            Members = group?.Members.Select(m => m.Tag).ToArray(),
            Peers = outbound is WireGuardEndpoint wg
                ? wg.Peers.Select(p => new PeerInfo(p.Name, p.Endpoint?.ToString(), p.LastHandshake, p.RxBytes, p.TxBytes)).ToArray()
                : null,
        };
    }
}
