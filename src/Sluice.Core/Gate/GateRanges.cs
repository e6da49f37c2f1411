using System.Globalization;

namespace Sluice.Core.Gate;

/// <summary>What every platform's gate renderer (nftables, pf) and the gate's state agree on.</summary>
public static class GateRanges
{
    /// <summary>Private and link-local ranges allow_lan opens: RFC 1918, RFC 3927, RFC 4193, RFC 4291 link-local (+ link-local multicast).</summary>
    public static readonly string[] LanV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "224.0.0.0/24"];

    public static readonly string[] LanV6 = ["fc00::/7", "fe80::/10", "ff02::/16"];

    /// <summary>A mark or class id as the firewall tools print it: 0x534c.</summary>
    public static string Hex(uint value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
