namespace Sluice.Control;

/// <summary><c>GET /api/device/udid</c> data: the machine's app-specific id (see Sluice.Daemon.DeviceId).</summary>
public sealed record DeviceData(string Udid);
