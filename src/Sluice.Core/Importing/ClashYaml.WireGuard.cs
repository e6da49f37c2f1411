using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// mihomo's <c>type: wireguard</c> proxy to a sing-box "wireguard" endpoint: ip/ipv6 → address, private-key, mtu, and
/// either the one-peer form (server, port, public-key, pre-shared-key, reserved, allowed-ips, persistent-keepalive at
/// the top) or <c>peers:</c> (each with those fields). Refused, naming the field, because dropping them would change
/// what goes on the wire or where names are resolved: amnezia-wg-option (AmneziaWG's junk packets),
/// remote-dns-resolve (names resolved inside the tunnel), dialer-proxy and the dial fields (the engine dials WireGuard
/// itself), udp: false (an L3 lane carries UDP).
/// </summary>
public static partial class ClashYaml
{
    private static JsonObject ConvertWireGuard(YamlMappingNode entry, string name)
    {
        foreach (string field in new[] { "dialer-proxy", "interface-name", "routing-mark", "ip-version" })
            if (Scalar(entry, field) is { Length: > 0 } value && !(field == "ip-version" && value == "dual") && !(field == "routing-mark" && value == "0"))
                throw new ImportException($"{field} is not supported for WireGuard by Sluice: the engine dials WireGuard peers itself, as an L3 lane");
        if (entry.Children.ContainsKey(new YamlScalarNode("amnezia-wg-option")))
            throw new ImportException("amnezia-wg-option (AmneziaWG's junk packets and header changes) is not supported by Sluice: it speaks plain WireGuard, which such a server does not answer");
        if (IsTrue(Scalar(entry, "remote-dns-resolve")))
            throw new ImportException("remote-dns-resolve is not supported by Sluice: names would be resolved outside the tunnel; route the DNS servers through it with a DNS server's \"detour\" instead");
        if (IsFalse(Scalar(entry, "udp")))
            throw new ImportException("udp: false is not supported for WireGuard by Sluice: the endpoint is an L3 lane and carries UDP too");

        string privateKey = Scalar(entry, "private-key") ?? throw new ImportException("no \"private-key\"");
        WireGuardLink.Key(privateKey, "private-key", Bad);
        var address = new List<string>();
        foreach (string key in new[] { "ip", "ipv6" })
            if (Scalar(entry, key) is { Length: > 0 } ip) address.Add(ip);
        if (address.Count == 0) throw new ImportException("no \"ip\" (this end's tunnel address)");

        var peers = new JsonArray();
        if (entry.Children.TryGetValue(new YamlScalarNode("peers"), out var peerList) && peerList is YamlSequenceNode list)
        {
            // The full form: the top-level server, public-key, … are ignored by mihomo, so they are here too.
            foreach (var item in list)
                peers.Add((JsonNode)(item is YamlMappingNode peer ? WireGuardPeer(peer) : throw new ImportException($"line {item.Start.Line}: a peer is not a mapping")));
            if (peers.Count == 0) throw new ImportException("\"peers\" is empty");
        }
        else
        {
            peers.Add((JsonNode)WireGuardPeer(entry));
        }
        var endpoint = new JsonObject
        {
            ["type"] = "wireguard", ["tag"] = name, ["address"] = WireGuardLink.Prefixes(string.Join(',', address), "ip", Bad), ["private_key"] = privateKey,
        };
        if (Scalar(entry, "mtu") is { Length: > 0 } mtuText)
            endpoint["mtu"] = int.TryParse(mtuText, NumberStyles.None, CultureInfo.InvariantCulture, out int mtu) && mtu is >= 576 and <= 65535
                ? mtu : throw new ImportException($"mtu \"{mtuText}\" is not a number in 576..65535");
        endpoint["peers"] = peers;
        return endpoint;

        static ImportException Bad(string problem) => new(problem);
    }

    private static JsonObject WireGuardPeer(YamlMappingNode map)
    {
        string server = Scalar(map, "server") ?? throw new ImportException("no \"server\"");
        string portText = Scalar(map, "port") ?? throw new ImportException("no \"port\"");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new ImportException($"port \"{portText}\" is not a number in 1..65535");
        string publicKey = Scalar(map, "public-key") ?? throw new ImportException("no \"public-key\"");
        WireGuardLink.Key(publicKey, "public-key", Bad);
        var peer = new JsonObject { ["address"] = server, ["port"] = port, ["public_key"] = publicKey };
        if (Scalar(map, "pre-shared-key") is { Length: > 0 } psk)
        {
            WireGuardLink.Key(psk, "pre-shared-key", Bad);
            peer["pre_shared_key"] = psk;
        }
        // mihomo's default is every address of both families.
        string allowed = List(map, "allowed-ips") is { } ips ? string.Join(',', ips) : "0.0.0.0/0,::/0";
        peer["allowed_ips"] = WireGuardLink.Prefixes(allowed, "allowed-ips", Bad);
        // Three numbers, or their base64 ("U4An"): both are mihomo's.
        if (List(map, "reserved") is { } reserved && string.Join(',', reserved) is var text && text != "0,0,0")
            peer["reserved"] = WireGuardLink.Reserved(text, Bad);
        if (Scalar(map, "persistent-keepalive") is { Length: > 0 } keepaliveText && keepaliveText != "0")
            peer["persistent_keepalive_interval"] = int.TryParse(keepaliveText, NumberStyles.None, CultureInfo.InvariantCulture, out int keepalive) && keepalive <= 65535
                ? keepalive : throw new ImportException($"persistent-keepalive \"{keepaliveText}\" is not a number of seconds");
        return peer;

        static ImportException Bad(string problem) => new(problem);
    }
}
