using System.Text;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Network;

namespace Sluice.Platform.Linux;

/// <summary>
/// Brings a freshly created TUN interface into service:
/// 1. per-interface sysctls: rp_filter 0 (replies to captured flows arrive on the TUN with sources
///    the main table routes elsewhere; strict reverse-path filtering would drop them), accept_ra 0
///    and autoconf 0 (a TUN has no router to listen to);
/// 2. one batch (rtnetlink in process, or <c>ip -batch</c> in a named namespace): MTU, addrgenmode none (no kernel-made link-local address), the
///    addresses (IPv6 with nodad so they are usable at once), link up.
/// </summary>
public static class TunInterfaceSetup
{
    public static void Configure(string name, IReadOnlyList<IpPrefix> addresses, int mtu, string? netns = null)
    {
        LinuxTunDevice.ValidateName(name);
        ArgumentNullException.ThrowIfNull(addresses);
        if (mtu is < 576 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(mtu), mtu, $"MTU of TUN \"{name}\" must be 576..65535");

        bool ipv6Available = Directory.Exists("/proc/sys/net/ipv6");
        WriteSysctls(name, ipv6Available, netns);
        IpCommand.Apply(Operations(name, addresses, mtu, ipv6Available), netns);
    }

    /// <summary>The <c>ip -batch</c> text that sets MTU, addresses and link state.</summary>
    public static string RenderBatch(string name, IReadOnlyList<IpPrefix> addresses, int mtu, bool ipv6Available = true) =>
        NetworkOperation.RenderBatch(Operations(name, addresses, mtu, ipv6Available));

    /// <summary>MTU, addrgenmode none (with IPv6), the addresses (IPv6 with nodad), link up.</summary>
    public static IReadOnlyList<NetworkOperation> Operations(string name, IReadOnlyList<IpPrefix> addresses, int mtu, bool ipv6Available = true)
    {
        var operations = new List<NetworkOperation> { new LinkOperation(name, Mtu: mtu) };
        if (ipv6Available) operations.Add(new LinkOperation(name, AddrGenModeNone: true));
        foreach (var address in addresses) operations.Add(new AddressOperation(address, name));
        operations.Add(new LinkOperation(name, Up: true));
        return operations;
    }

    private static void WriteSysctls(string name, bool ipv6Available, string? netns)
    {
        var required = new List<string> { $"/proc/sys/net/ipv4/conf/{name}/rp_filter" };
        var optional = new List<string>();
        if (ipv6Available)
        {
            optional.Add($"/proc/sys/net/ipv6/conf/{name}/accept_ra");
            optional.Add($"/proc/sys/net/ipv6/conf/{name}/autoconf");
        }

        if (netns is null)
        {
            foreach (var path in required) WriteFile(path);
            foreach (var path in optional)
                if (File.Exists(path)) WriteFile(path);
            return;
        }

        // /proc/sys/net shows the namespace of the process that opens it, so write from inside NS.
        // The name was validated (letters, digits, - _ .), so it is safe inside this script.
        var script = new StringBuilder("set -e\n");
        foreach (var path in required) script.Append("echo 0 > ").Append(path).Append('\n');
        foreach (var path in optional) script.Append("if [ -e ").Append(path).Append(" ]; then echo 0 > ").Append(path).Append("; fi\n");
        var result = IpCommand.InNetns(netns, "sh", ["-c", script.ToString()]);
        if (!result.Succeeded)
            throw new InvalidOperationException(
                $"setting sysctls of TUN \"{name}\" in netns {netns} failed: {result.Stderr.Trim()}");
    }

    private static void WriteFile(string path)
    {
        try
        {
            File.WriteAllText(path, "0");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot write 0 to {path}: {e.Message}; the engine needs root", e);
        }
    }
}
