using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.Vless;
using Sluice.Core.Outbounds.Vmess;
using Sluice.Core.Outbounds.WireGuard;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// Clash (mihomo) <c>type: vless</c>, <c>type: vmess</c> and <c>type: trojan</c> proxies to sing-box outbounds: uuid/flow/
/// packet-encoding, vmess's alterId/cipher/global-padding/authenticated-length, password, tls/servername/sni/skip-cert-verify/alpn/client-fingerprint, reality-opts,
/// network ws with ws-opts (path, headers, max-early-data, early-data-header-name, v2ray-http-upgrade), grpc with grpc-opts,
/// h2 with h2-opts, udp.
/// </summary>
internal static class ClashV2Ray
{
    public static JsonObject Convert(YamlMappingNode entry, string type, string name, string server, int port)
    {
        var o = new JsonObject { ["type"] = type, ["tag"] = name, ["server"] = server, ["server_port"] = port };
        bool tlsOn;
        if (type == "vless")
        {
            string uuid = Scalar(entry, "uuid") ?? throw new ImportException("no \"uuid\"");
            if (VlessProtocol.ParseUserId(uuid) is null) throw new ImportException("\"uuid\" is not a UUID");
            o["uuid"] = uuid;
            string flow = Scalar(entry, "flow") ?? "";
            if (flow == VlessOptionsParser.Vision) o["flow"] = flow;
            else if (flow.Length > 0) throw new ImportException(VlessLink.UnsupportedFlow(flow));
            switch (Scalar(entry, "packet-encoding"))
            {
                case null or "xudp":
                    break;
                case "" or "none":
                    o["packet_encoding"] = "";
                    break;
                case var other:
                    throw new ImportException($"packet-encoding \"{other}\" is not supported (xudp, none)");
            }
            tlsOn = ClashYaml.IsTrue(Scalar(entry, "tls"));
        }
        else if (type == "vmess")
        {
            VmessFields(entry, o);
            tlsOn = ClashYaml.IsTrue(Scalar(entry, "tls"));
        }
        else
        {
            o["password"] = Scalar(entry, "password") is { Length: > 0 } password ? password : throw new ImportException("no \"password\"");
            tlsOn = true; // Clash's trojan is always TLS
        }
        if (tlsOn) o["tls"] = Tls(entry);
        if (Transport(entry) is { } transport) o["transport"] = transport;
        return o;
    }

    /// <summary>uuid, alterId (0 only: the AEAD header), cipher, global-padding, authenticated-length, packet-encoding.</summary>
    private static void VmessFields(YamlMappingNode entry, JsonObject o)
    {
        string uuid = Scalar(entry, "uuid") ?? throw new ImportException("no \"uuid\"");
        if (!Guid.TryParseExact(uuid, "D", out _)) throw new ImportException("\"uuid\" is not a UUID");
        o["uuid"] = uuid;
        if (Scalar(entry, "alterId") is { Length: > 0 } aid && aid != "0")
            throw new ImportException($"alterId {aid}: the legacy MD5/timestamp header (alterId > 0) is not supported by Sluice; the server accepts the AEAD header with alterId 0");
        string cipher = Scalar(entry, "cipher") ?? "auto";
        if (VmessOptionsParser.SecurityNamed(cipher) is null)
            throw new ImportException($"cipher \"{cipher}\" is not supported (auto, aes-128-gcm, chacha20-poly1305, none, zero)");
        if (cipher is not ("" or "auto")) o["security"] = cipher;
        if (ClashYaml.IsTrue(Scalar(entry, "global-padding"))) o["global_padding"] = true;
        if (ClashYaml.IsTrue(Scalar(entry, "authenticated-length"))) o["authenticated_length"] = true;
        switch (Scalar(entry, "packet-encoding"))
        {
            case null or "" or "none":
                break; // the UDP command, sing-box's vmess default
            case "xudp":
                o["packet_encoding"] = "xudp";
                break;
            case var other:
                throw new ImportException($"packet-encoding \"{other}\" is not supported (xudp, none)");
        }
    }

    /// <summary>tls, servername/sni, skip-cert-verify, alpn, client-fingerprint, reality-opts → sing-box's "tls" object.</summary>
    internal static JsonObject Tls(YamlMappingNode entry)
    {
        var tls = new JsonObject { ["enabled"] = true };
        if ((Scalar(entry, "servername") ?? Scalar(entry, "sni")) is { Length: > 0 } sni) tls["server_name"] = sni;
        if (ClashYaml.IsTrue(Scalar(entry, "skip-cert-verify"))) tls["insecure"] = true;
        if (entry.Children.TryGetValue(new YamlScalarNode("alpn"), out var alpn) && alpn is YamlSequenceNode list)
            tls["alpn"] = new JsonArray(list.OfType<YamlScalarNode>().Select(a => (JsonNode)a.Value!).ToArray());
        if (Scalar(entry, "client-fingerprint") is { Length: > 0 } fp) tls["utls"] = new JsonObject { ["enabled"] = true, ["fingerprint"] = fp };
        if (Mapping(entry, "reality-opts") is { } reality)
        {
            var r = new JsonObject { ["enabled"] = true, ["public_key"] = Scalar(reality, "public-key") ?? throw new ImportException("reality-opts has no public-key") };
            if (Scalar(reality, "short-id") is { Length: > 0 } sid) r["short_id"] = sid;
            tls["reality"] = r;
        }
        return tls;
    }

    /// <summary>
    /// network: ws (ws-opts; v2ray-http-upgrade there is the httpupgrade transport), grpc (grpc-opts.grpc-service-name),
    /// h2 (h2-opts host list and path: sing-box's http transport). Clash's "http" network is its TCP "HTTP header"
    /// obfuscation (http-opts), not the http transport: refused by name.
    /// </summary>
    private static JsonObject? Transport(YamlMappingNode entry)
    {
        string network = Scalar(entry, "network") ?? "tcp";
        switch (network)
        {
            case "tcp":
                return null;
            case "ws":
                return WebSocket(Mapping(entry, "ws-opts"));
            case "grpc":
                return V2RayLinkFields.Grpc("clash", Mapping(entry, "grpc-opts") is { } grpc ? Scalar(grpc, "grpc-service-name") ?? "" : "", mode: null, note: null);
            case "h2":
                var h2 = Mapping(entry, "h2-opts");
                string? hosts = h2 is not null && h2.Children.TryGetValue(new YamlScalarNode("host"), out var host)
                    ? host switch
                    {
                        YamlSequenceNode list => string.Join(',', list.OfType<YamlScalarNode>().Select(x => x.Value)),
                        YamlScalarNode one => one.Value,
                        _ => null,
                    }
                    : null;
                return V2RayLinkFields.Http(hosts, h2 is null ? null : Scalar(h2, "path"));
            case "http":
                throw new ImportException("network \"http\" is Clash's HTTP-header obfuscation over plain TCP (http-opts), which Sluice does not speak; "
                    + "it is not sing-box's http transport (that is Clash's \"h2\")");
            default:
                throw new ImportException($"network \"{network}\" is not supported (tcp, ws, grpc, h2)");
        }
    }

    private static JsonObject WebSocket(YamlMappingNode? opts)
    {
        var ws = new JsonObject { ["type"] = "ws", ["path"] = "/" };
        if (opts is null) return ws;
        var headers = new JsonObject();
        if (Mapping(opts, "headers") is { } h)
        {
            foreach (var (key, value) in h.Children)
                if (key is YamlScalarNode k && value is YamlScalarNode v) headers[k.Value!] = v.Value;
        }
        if (ClashYaml.IsTrue(Scalar(opts, "v2ray-http-upgrade")))
        {
            // mihomo's httpupgrade: the ws-opts path and headers, the Host header as the transport's host.
            string? upHost = headers.FirstOrDefault(p => p.Key.Equals("Host", StringComparison.OrdinalIgnoreCase)) is { Value: { } hv } ? (string?)hv : null;
            var up = V2RayLinkFields.HttpUpgrade(upHost, Scalar(opts, "path"));
            foreach (var name in headers.Select(p => p.Key).Where(k => !k.Equals("Host", StringComparison.OrdinalIgnoreCase)).ToList())
            {
                up["headers"] ??= new JsonObject();
                up["headers"]![name] = headers[name]!.DeepClone();
            }
            return up;
        }
        if (Scalar(opts, "path") is { Length: > 0 } path) V2RayLinkFields.SetWebSocketPath(ws, path);
        if (headers.Count > 0) ws["headers"] = headers;
        if (Scalar(opts, "max-early-data") is { } ed)
            ws["max_early_data"] = int.TryParse(ed, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n
                : throw new ImportException($"ws-opts.max-early-data \"{ed}\" is not a number");
        if (Scalar(opts, "early-data-header-name") is { Length: > 0 } eh) ws["early_data_header_name"] = eh;
        return ws;
    }

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    private static YamlMappingNode? Mapping(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v as YamlMappingNode : null;
}
