using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// wireguard://PRIVATE_KEY@host:port/?publickey=…&amp;address=10.0.0.2/32,fd00::2/128&amp;mtu=1280&amp;reserved=1,2,3#name
/// (the v2rayN convention other clients read and write) to a sing-box "wireguard" endpoint with one peer, and back.
/// Query keys: publickey (required), address (required; a bare address is /32 or /128), presharedkey, reserved
/// (three numbers or their base64), mtu, keepalive (persistent keepalive, seconds), allowedips (default everything).
/// Any other key fails naming it: AmneziaWG's junk-packet fields and the noise options of some clients change what the
/// link sends on the wire, so a link that asks for them is refused, never imported as plain WireGuard.
/// </summary>
internal static class WireGuardLink
{
    private static readonly string[] Everything = ["0.0.0.0/0", "::/0"];

    /// <summary>Query key → the names clients write it under (the first is the one Sluice writes).</summary>
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["publickey"] = "publickey", ["public_key"] = "publickey", ["peer_public_key"] = "publickey",
        ["address"] = "address", ["ip"] = "address", ["local_address"] = "address",
        ["presharedkey"] = "presharedkey", ["pre_shared_key"] = "presharedkey", ["psk"] = "presharedkey",
        ["reserved"] = "reserved", ["mtu"] = "mtu",
        ["keepalive"] = "keepalive", ["persistent_keepalive"] = "keepalive", ["persistentkeepalive"] = "keepalive",
        ["allowedips"] = "allowedips", ["allowed_ips"] = "allowedips",
    };

    public static JsonObject Parse(string rest, string tag)
    {
        var link = V2RayLinkFields.Split("wireguard", rest);
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in link.Query)
        {
            if (!Aliases.TryGetValue(key, out var canonical))
                throw V2RayLinkFields.Bad("wireguard", $"query key \"{key}\" is not supported by Sluice (it reads publickey, address, presharedkey, reserved, mtu, keepalive, allowedips)");
            query[canonical] = value.Replace(' ', '+'); // base64 keys: a '+' the writer did not escape reads as a space
        }
        string privateKey = Uri.UnescapeDataString(link.UserInfo).Replace(' ', '+');
        Key(privateKey, "the private key before '@'");
        string publicKey = query.GetValueOrDefault("publickey") ?? throw V2RayLinkFields.Bad("wireguard", "publickey (the server's public key) is missing");
        Key(publicKey, "publickey");
        string address = query.GetValueOrDefault("address") ?? throw V2RayLinkFields.Bad("wireguard",
            "address (this end's tunnel address, the [Interface] Address of a wg-quick file) is missing");

        var peer = new JsonObject { ["address"] = link.Host, ["port"] = link.Port, ["public_key"] = publicKey };
        if (query.GetValueOrDefault("presharedkey") is { Length: > 0 } psk)
        {
            Key(psk, "presharedkey");
            peer["pre_shared_key"] = psk;
        }
        peer["allowed_ips"] = Prefixes(query.GetValueOrDefault("allowedips") is { Length: > 0 } allowed ? allowed : string.Join(',', Everything), "allowedips");
        if (query.GetValueOrDefault("keepalive") is { Length: > 0 } keepalive)
            peer["persistent_keepalive_interval"] = Number(keepalive, "keepalive", 0, 65535);
        if (query.GetValueOrDefault("reserved") is { Length: > 0 } reserved) peer["reserved"] = Reserved(reserved);

        var endpoint = new JsonObject
        {
            ["type"] = "wireguard", ["tag"] = tag, ["address"] = Prefixes(address, "address"), ["private_key"] = privateKey,
        };
        if (query.GetValueOrDefault("mtu") is { Length: > 0 } mtu) endpoint["mtu"] = Number(mtu, "mtu", 576, 65535);
        endpoint["peers"] = new JsonArray(peer);
        return endpoint;
    }

    /// <summary>The link of an endpoint with exactly one peer that has an address to dial; null otherwise (no link form).</summary>
    public static string? Write(JsonObject endpoint)
    {
        if (endpoint["peers"] is not JsonArray { Count: 1 } peers || peers[0] is not JsonObject peer
            || peer["address"] is null || peer["port"] is null || endpoint["private_key"] is null || peer["public_key"] is null) return null;
        var query = new List<string>
        {
            "publickey=" + Uri.EscapeDataString((string)peer["public_key"]!),
            "address=" + string.Join(',', List(endpoint["address"])),
        };
        if (peer["pre_shared_key"] is JsonValue psk && (string?)psk is { Length: > 0 } pskText) query.Add("presharedkey=" + Uri.EscapeDataString(pskText));
        if (peer["reserved"] is { } reserved) query.Add("reserved=" + string.Join(',', ReservedBytes(reserved)));
        if (endpoint["mtu"] is { } mtu) query.Add("mtu=" + mtu.ToJsonString());
        if (peer["persistent_keepalive_interval"] is { } keepalive) query.Add("keepalive=" + keepalive.ToJsonString());
        var allowed = List(peer["allowed_ips"]);
        if (!allowed.SequenceEqual(Everything)) query.Add("allowedips=" + string.Join(',', allowed));
        var server = new JsonObject { ["server"] = (string)peer["address"]!, ["server_port"] = (int)peer["port"]! };
        return $"wireguard://{Uri.EscapeDataString((string)endpoint["private_key"]!)}@{ShareLinks.HostPort(server)}/?{string.Join('&', query)}"
            + $"#{Uri.EscapeDataString((string?)endpoint["tag"] ?? "wireguard")}";
    }

    private static ImportException LinkError(string problem) => V2RayLinkFields.Bad("wireguard", problem);

    private static List<string> List(JsonNode? node) => node switch
    {
        JsonArray a => a.Select(n => (string)n!).ToList(),
        JsonValue v => [(string)v!],
        _ => [],
    };

    private static IEnumerable<int> ReservedBytes(JsonNode reserved) => reserved is JsonArray a
        ? a.Select(n => (int)n!)
        : Convert.FromBase64String((string)reserved!).Select(b => (int)b);

    internal static void Key(string key, string what, Func<string, ImportException>? bad = null)
    {
        Span<byte> bytes = stackalloc byte[33];
        if (!Convert.TryFromBase64String(key, bytes, out int length) || length != 32)
            throw (bad ?? LinkError)($"{what} is not a WireGuard key (base64 of 32 bytes, as `wg genkey` prints)");
    }

    internal static JsonArray Prefixes(string list, string what, Func<string, ImportException>? bad = null)
    {
        var result = new JsonArray();
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string prefix = item.Contains('/') ? item : item + (item.Contains(':') ? "/128" : "/32");
            if (!System.Net.IPNetwork.TryParse(prefix, out _) && !IpPrefixLoose(prefix))
                throw (bad ?? LinkError)($"{what} \"{item}\" is not an address or CIDR");
            result.Add((JsonNode)prefix);
        }
        if (result.Count == 0) throw (bad ?? LinkError)($"{what} is empty");
        return result;
    }

    /// <summary>An interface address with host bits (10.0.0.2/24) is a valid tunnel address, unlike for IPNetwork.</summary>
    private static bool IpPrefixLoose(string prefix)
    {
        int slash = prefix.IndexOf('/');
        return System.Net.IPAddress.TryParse(prefix[..slash], out var address)
            && int.TryParse(prefix[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int bits)
            && bits <= (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
    }

    private static int Number(string text, string what, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n
            : throw V2RayLinkFields.Bad("wireguard", $"{what} \"{text}\" is not a number in {min}..{max}");

    /// <summary>"1,2,3" or the base64 of those three bytes (both are written by clients), as three numbers.</summary>
    internal static JsonArray Reserved(string text, Func<string, ImportException>? bad = null)
    {
        byte[] bytes;
        if (text.Contains(','))
        {
            var parts = text.Split(',', StringSplitOptions.TrimEntries);
            bytes = parts.Length == 3 && parts.All(p => byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                ? parts.Select(p => byte.Parse(p, CultureInfo.InvariantCulture)).ToArray()
                : throw (bad ?? LinkError)($"reserved \"{text}\" is not three numbers 0..255");
        }
        else
        {
            Span<byte> decoded = stackalloc byte[4];
            bytes = Convert.TryFromBase64String(text, decoded, out int length) && length == 3
                ? decoded[..3].ToArray()
                : throw (bad ?? LinkError)($"reserved \"{text}\" is neither three numbers 0..255 nor the base64 of three bytes");
        }
        return new JsonArray(bytes.Select(b => (JsonNode)(int)b).ToArray());
    }
}
