using Sluice.Core.Configuration;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Core.Tun;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>A wg-quick file could not be imported; the message is <c>file:line: problem</c>.</summary>
public sealed class ImportException(string message) : Exception(message);

/// <summary>
/// Turns a wg-quick file (<c>[Interface]</c> PrivateKey, Address, DNS, MTU, ListenPort; <c>[Peer]</c>
/// PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive) into a Sluice config: a TUN
/// with auto_route, the WireGuard endpoint, and a default route set — a full tunnel (AllowedIPs has a
/// default route) sends everything through it except private ranges, a split tunnel sends only
/// AllowedIPs through it. The file's DNS servers become Sluice's DNS servers, asked through the
/// tunnel, with every port-53 query hijacked to them.
/// </summary>
public static class WgQuickImporter
{
    /// <summary>wg-quick keys that only make sense to wg-quick's shell hooks; skipped with a note.</summary>
    private static readonly HashSet<string> ShellOnlyKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig", "Table", "FwMark",
    };

    public sealed record Result(string Json, IReadOnlyList<string> Notes);

    public static Result Import(string text, string fileName)
    {
        string tag = Path.GetFileNameWithoutExtension(fileName) is { Length: > 0 } stem ? stem : "wg";
        var notes = new List<string>();
        JsonObject? iface = null;
        var peers = new List<JsonObject>();
        JsonObject? section = null;
        var addresses = new List<IpPrefix>();
        var allowedAll = new List<IpPrefix>();
        var dnsServers = new List<string>();
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNo = i + 1;
            string line = lines[i];
            int hash = line.IndexOf('#');
            if (hash >= 0) line = line[..hash];
            line = line.Trim();
            if (line.Length == 0) continue;
            ImportException Bad(string problem) => new($"{fileName}:{lineNo}: {problem}");

            if (line.StartsWith('['))
            {
                if (line.Equals("[Interface]", StringComparison.OrdinalIgnoreCase))
                {
                    if (iface is not null) throw Bad("a second [Interface] section");
                    section = iface = new JsonObject();
                }
                else if (line.Equals("[Peer]", StringComparison.OrdinalIgnoreCase))
                {
                    section = new JsonObject();
                    peers.Add(section);
                }
                else
                {
                    throw Bad($"unknown section {line} (expected [Interface] or [Peer])");
                }
                continue;
            }
            int eq = line.IndexOf('=');
            if (eq <= 0) throw Bad($"expected `Key = Value`, got \"{line}\"");
            string key = line[..eq].Trim();
            string value = line[(eq + 1)..].Trim();
            if (section is null) throw Bad($"{key} appears before any [Interface] or [Peer] section");
            if (value.Length == 0) throw Bad($"{key} has no value");
            bool inInterface = ReferenceEquals(section, iface);

            if (ShellOnlyKeys.Contains(key))
            {
                notes.Add($"{fileName}:{lineNo}: {key} is a wg-quick shell setting; Sluice does its own routing, so it was skipped");
                continue;
            }
            switch (inInterface ? "i:" + key.ToLowerInvariant() : "p:" + key.ToLowerInvariant())
            {
                case "i:privatekey":
                    section["private_key"] = Key(value, "PrivateKey", Bad);
                    break;
                case "i:address":
                    foreach (var item in List(value))
                        addresses.Add(Prefix(item, hostOnly: true, "Address", Bad));
                    break;
                case "i:dns":
                    foreach (var item in List(value))
                    {
                        if (System.Net.IPAddress.TryParse(item, out _)) dnsServers.Add(item);
                        else notes.Add($"{fileName}:{lineNo}: DNS search domain {item} was skipped (Sluice answers names as asked)");
                    }
                    break;
                case "i:mtu":
                    section["mtu"] = Number(value, 576, 65535, "MTU", Bad);
                    break;
                case "i:listenport":
                    section["listen_port"] = Number(value, 0, 65535, "ListenPort", Bad);
                    break;
                case "p:publickey":
                    section["public_key"] = Key(value, "PublicKey", Bad);
                    break;
                case "p:presharedkey":
                    section["pre_shared_key"] = Key(value, "PresharedKey", Bad);
                    break;
                case "p:allowedips":
                    var allowed = new JsonArray();
                    foreach (var item in List(value))
                    {
                        var prefix = Prefix(item, hostOnly: false, "AllowedIPs", Bad);
                        allowedAll.Add(prefix);
                        allowed.Add((JsonNode)prefix.ToString());
                    }
                    section["allowed_ips"] = allowed;
                    break;
                case "p:endpoint":
                    var (host, port) = Endpoint(value, Bad);
                    section["address"] = host;
                    section["port"] = port;
                    break;
                case "p:persistentkeepalive":
                    if (!value.Equals("off", StringComparison.OrdinalIgnoreCase))
                        section["persistent_keepalive_interval"] = Number(value, 0, 65535, "PersistentKeepalive", Bad);
                    break;
                default:
                    throw Bad($"unknown key {key} in {(inInterface ? "[Interface]" : "[Peer]")}");
            }
        }

        if (iface is null) throw new ImportException($"{fileName}: no [Interface] section");
        if (!iface.ContainsKey("private_key")) throw new ImportException($"{fileName}: [Interface] has no PrivateKey");
        if (addresses.Count == 0) throw new ImportException($"{fileName}: [Interface] has no Address");
        if (peers.Count == 0) throw new ImportException($"{fileName}: no [Peer] section");
        for (int p = 0; p < peers.Count; p++)
        {
            if (!peers[p].ContainsKey("public_key")) throw new ImportException($"{fileName}: [Peer] #{p + 1} has no PublicKey");
            if (!peers[p].ContainsKey("allowed_ips")) throw new ImportException($"{fileName}: [Peer] #{p + 1} has no AllowedIPs");
        }
        return new Result(Render(tag, iface, addresses, peers, allowedAll, dnsServers), notes);
    }

    private static string Render(string tag, JsonObject iface, List<IpPrefix> addresses, List<JsonObject> peers, List<IpPrefix> allowed, List<string> dnsServers)
    {
        var endpoint = new JsonObject
        {
            ["type"] = "wireguard",
            ["tag"] = tag,
            ["address"] = new JsonArray(addresses.Select(a => (JsonNode)a.ToString()).ToArray()),
            ["private_key"] = iface["private_key"]!.DeepClone(),
        };
        if (iface["listen_port"] is { } port) endpoint["listen_port"] = port.DeepClone();
        if (iface["mtu"] is { } mtu) endpoint["mtu"] = mtu.DeepClone();
        endpoint["peers"] = new JsonArray(peers.Select(p => (JsonNode)p.DeepClone()).ToArray());

        bool fullTunnel = allowed.Any(p => p.Length == 0);
        var rules = new JsonArray();
        // The file's DNS servers answer through the tunnel; every port-53 query on the host is
        // hijacked to Sluice's DNS, so no lookup leaks to the local network.
        if (dnsServers.Count > 0) rules.Add((JsonNode)new JsonObject { ["port"] = 53, ["action"] = "hijack-dns" });
        if (fullTunnel)
            rules.Add((JsonNode)new JsonObject { ["ip_is_private"] = true, ["outbound"] = "direct" });
        else
            rules.Add((JsonNode)new JsonObject { ["ip_cidr"] = new JsonArray(allowed.Select(a => (JsonNode)a.ToString()).ToArray()), ["outbound"] = tag });

        var config = new JsonObject
        {
            ["log"] = new JsonObject { ["level"] = "info" },
            ["inbounds"] = new JsonArray(new JsonObject
            {
                ["type"] = "tun",
                ["tag"] = "tun-in",
                ["interface_name"] = "sluice0",
                ["address"] = new JsonArray("172.19.0.1/30", "fdfe:dcba:9876::1/126"),
                ["auto_route"] = true,
                ["strict_route"] = true,
            }),
            ["endpoints"] = new JsonArray(endpoint),
            ["outbounds"] = new JsonArray(new JsonObject { ["type"] = "direct", ["tag"] = "direct" }),
            ["route"] = new JsonObject { ["rules"] = rules, ["final"] = fullTunnel ? tag : "direct" },
        };
        if (dnsServers.Count > 0)
        {
            var servers = new JsonArray(dnsServers.Select((ip, i) => (JsonNode)new JsonObject
            {
                ["type"] = "udp",
                ["tag"] = dnsServers.Count == 1 ? $"{tag}-dns" : $"{tag}-dns{i + 1}",
                ["server"] = ip,
                ["detour"] = tag,
            }).ToArray());
            config["dns"] = new JsonObject { ["servers"] = servers, ["final"] = dnsServers.Count == 1 ? $"{tag}-dns" : $"{tag}-dns1" };
        }
        return config.ToJsonString(ConfigJson.Readable) + "\n";
    }

    private static IEnumerable<string> List(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static string Key(string value, string what, Func<string, ImportException> bad)
    {
        Span<byte> bytes = stackalloc byte[48];
        if (!Convert.TryFromBase64String(value, bytes, out int n) || n != 32)
            throw bad($"{what} is not a WireGuard key (base64 of 32 bytes, as `wg genkey` prints)");
        return value;
    }

    private static int Number(string value, int min, int max, string what, Func<string, ImportException> bad) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n
            : throw bad($"{what} = {value} is not a number in {min}..{max}");

    private static IpPrefix Prefix(string item, bool hostOnly, string what, Func<string, ImportException> bad)
    {
        // wg-quick accepts a bare address in Address (a host route).
        if (hostOnly && !item.Contains('/') && NetAddress(item) is { } host)
            return new IpPrefix(host, host.IsV4 ? 32 : 128);
        return IpPrefix.TryParse(item, out var prefix) ? prefix : throw bad($"{what}: \"{item}\" is not an address or CIDR");
    }

    private static Packets.NetAddress? NetAddress(string s) => Packets.NetAddress.TryParse(s, out var a) ? a : null;

    private static (string Host, int Port) Endpoint(string value, Func<string, ImportException> bad)
    {
        string host;
        string portText;
        if (value.StartsWith('['))
        {
            int close = value.IndexOf(']');
            if (close < 0 || close + 1 >= value.Length || value[close + 1] != ':') throw bad($"Endpoint = {value}: expected [ipv6]:port");
            host = value[1..close];
            portText = value[(close + 2)..];
            if (!IPAddress.TryParse(host, out _)) throw bad($"Endpoint = {value}: \"{host}\" is not an IPv6 address");
        }
        else
        {
            int colon = value.LastIndexOf(':');
            if (colon <= 0 || value.IndexOf(':') != colon) throw bad($"Endpoint = {value}: expected host:port (IPv6 in brackets)");
            host = value[..colon];
            portText = value[(colon + 1)..];
        }
        return (host, Number(portText, 1, 65535, $"Endpoint port", bad));
    }
}
