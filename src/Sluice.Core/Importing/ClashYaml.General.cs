using System.Net;
using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A Clash/mihomo config's general keys, for `sluice import config.yaml`:
/// 1. log-level → log.level (silent → log.disabled);
/// 2. mode → experimental.clash_api.default_mode; with it or an external-controller (a dashboard switches modes), two
///    rules in front of the config's own give the modes mihomo's meaning (sing-box's clash_mode is only a rule item):
///    "direct" sends every flow direct, "global" sends it to the final outbound (what the Clash API shows as GLOBAL);
/// 3. external-controller, secret, external-controller-cors → clash_api's external_controller, secret and
///    access_control_allow_origin / _private_network (":9090" is every address, which needs a secret of at least 8
///    characters; without one the API listens on 127.0.0.1, noted);
/// 4. profile.store-selected / store-fake-ip → experimental.cache_file; global-client-fingerprint → utls of every TLS
///    proxy without its own client-fingerprint.
/// Every other top-level key Sluice does not read is named in one note.
/// </summary>
public static partial class ClashYaml
{
    /// <summary>Top-level keys some part of the config import reads; any other is named in the leftover note.</summary>
    private static readonly HashSet<string> ReadKeys = new(StringComparer.Ordinal)
    {
        "port", "socks-port", "mixed-port", "allow-lan", "mode", "log-level", "external-controller", "secret", "external-controller-cors",
        "profile", "proxies", "proxy-groups", "proxy-providers", "rules", "rule-providers", "sub-rules", "sniffer", "interface-name", "routing-mark",
        "dns", "hosts", "tun", "global-client-fingerprint", "ipv6",
    };

    /// <summary>mihomo's global-client-fingerprint: the ClientHello shape of every TLS proxy that names none of its own.</summary>
    private static void ApplyGlobalFingerprint(YamlMappingNode root, IEnumerable<JsonObject> outbounds)
    {
        if (Scalar(root, "global-client-fingerprint") is not { Length: > 0 } fingerprint) return;
        foreach (var o in outbounds)
            if (o["tls"] is JsonObject tls && tls["utls"] is null) tls["utls"] = new JsonObject { ["enabled"] = true, ["fingerprint"] = fingerprint };
    }

    private sealed record GeneralSections(JsonObject Log, JsonObject? Experimental, List<JsonObject> ModeRules);

    private static GeneralSections ConvertGeneral(YamlMappingNode root, string source, string final, List<string> notes)
    {
        var log = new JsonObject { ["level"] = "info" };
        switch (Scalar(root, "log-level")?.ToLowerInvariant())
        {
            case null or "info": break;
            case "silent": log = new JsonObject { ["disabled"] = true }; break;
            case "debug" or "error": log["level"] = Scalar(root, "log-level")!.ToLowerInvariant(); break;
            case "warning": log["level"] = "warn"; break;
            case var other: notes.Add($"{source}: log-level \"{other}\" is not a level (silent, error, warning, info, debug): info"); break;
        }

        var clash = new JsonObject();
        string mode = (Scalar(root, "mode") ?? "rule").ToLowerInvariant();
        if (mode is not ("rule" or "global" or "direct"))
        {
            notes.Add($"{source}: mode \"{mode}\" is not rule, global or direct: rule");
            mode = "rule";
        }
        if (mode != "rule") clash["default_mode"] = mode;

        string? secret = Scalar(root, "secret") is { Length: > 0 } s ? s : null;
        if (secret is { Length: < 8 })
        {
            notes.Add($"{source}: secret not carried over: Sluice's API needs at least 8 characters; the daemon's generated secret applies");
            secret = null;
        }
        if (Scalar(root, "external-controller") is { Length: > 0 } controller)
        {
            // mihomo's ":9090" is every address.
            string listen = controller.StartsWith(':') ? "0.0.0.0" + controller : controller;
            if (!ExperimentalSection.TryParseController(listen, out var endpoint))
                notes.Add($"{source}: external-controller \"{controller}\" not carried over: not host:port with an IP address or localhost");
            else
            {
                if (!IPAddress.IsLoopback(endpoint!.Address) && secret is null)
                {
                    notes.Add($"{source}: external-controller \"{controller}\" listens on 127.0.0.1:{endpoint.Port}: an API on other addresses needs a secret of at least 8 characters");
                    listen = $"127.0.0.1:{endpoint.Port}";
                }
                clash["external_controller"] = listen;
                if (secret is not null) clash["secret"] = secret;
            }
        }
        if (root.Children.TryGetValue(new YamlScalarNode("external-controller-cors"), out var corsNode) && corsNode is YamlMappingNode cors)
        {
            if (cors.Children.TryGetValue(new YamlScalarNode("allow-origins"), out var origins) && origins is YamlSequenceNode list)
                clash["access_control_allow_origin"] = new JsonArray(list.OfType<YamlScalarNode>().Select(o => (JsonNode)(o.Value ?? "")).ToArray());
            if (IsTrue(Scalar(cors, "allow-private-network"))) clash["access_control_allow_private_network"] = true;
        }

        // Where the mode can change or is not "rule", global and direct must mean what they mean in mihomo.
        var modeRules = clash.Count == 0 ? [] : new List<JsonObject>
        {
            new() { ["clash_mode"] = "direct", ["outbound"] = "direct" },
            new() { ["clash_mode"] = "global", ["outbound"] = final },
        };
        var experimental = new JsonObject();
        if (clash.Count > 0) experimental["clash_api"] = clash;
        if (root.Children.TryGetValue(new YamlScalarNode("profile"), out var profileNode) && profileNode is YamlMappingNode profile)
        {
            bool selected = IsTrue(Scalar(profile, "store-selected")), fakeIp = IsTrue(Scalar(profile, "store-fake-ip"));
            if (selected || fakeIp)
            {
                var cache = new JsonObject { ["enabled"] = true };
                if (fakeIp) cache["store_fakeip"] = true;
                experimental["cache_file"] = cache;
            }
        }

        var leftover = root.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "").Where(k => !ReadKeys.Contains(k)).ToList();
        if (leftover.Count > 0) notes.Add($"{source}: not carried over (Sluice has no such setting or sets it itself): {string.Join(", ", leftover)}");
        return new GeneralSections(log, experimental.Count > 0 ? experimental : null, modeRules);
    }
}
