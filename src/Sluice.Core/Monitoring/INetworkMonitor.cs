namespace Sluice.Core.Monitoring;

/// <summary>
/// Tells the host that the network changed (a link, address or route of the host, not Sluice's own TUN and
/// table). Events come in bursts (an address change brings routes with it); consumers debounce.
/// </summary>
public interface INetworkMonitor : IDisposable
{
    /// <summary>Raised on the monitor's thread with a one-line description ("address 10.0.0.3/24 added on eth0").</summary>
    event Action<string>? Changed;

    void Start();

    /// <summary>The interface of the IPv4 (else IPv6) default route in the main table; null when there is none.</summary>
    string? PhysicalInterface();
}
