using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Routing;

/// <summary>
/// What ip_is_private matches: addresses that never leave the local network (as sing-box: Go's
/// IsPrivate, loopback, link-local, multicast, unspecified), plus shared address space. Listed in docs/config.md.
/// </summary>
internal static class PrivateAddresses
{
    public static readonly string[] Prefixes =
    [
        "0.0.0.0/8",          // "this network" (RFC 1122)
        "10.0.0.0/8",         // RFC 1918
        "100.64.0.0/10",      // shared address space, carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",        // loopback
        "169.254.0.0/16",     // link-local (RFC 3927)
        "172.16.0.0/12",      // RFC 1918
        "192.168.0.0/16",     // RFC 1918
        "224.0.0.0/4",        // multicast
        "255.255.255.255/32", // limited broadcast
        "::/128",             // unspecified
        "::1/128",            // loopback
        "fc00::/7",           // unique local (RFC 4193)
        "fe80::/10",          // link-local
        "ff00::/8",           // multicast
    ];

    private static readonly PrefixTrie Trie = Build();

    public static bool Contains(NetAddress address) => Trie.Contains(address);

    private static PrefixTrie Build()
    {
        var trie = new PrefixTrie();
        foreach (string p in Prefixes) trie.Add(IpPrefix.Parse(p));
        return trie;
    }
}
