using Sluice.Core.Configuration;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// A provider's list of servers: a base64 body of share links (one a line, the common
/// "subscription" format), or the links as plain lines. A bad line is skipped with a note that
/// names it; a body with no usable line is an error.
/// </summary>
public static class SubscriptionBody
{
    public sealed record Result(IReadOnlyList<JsonObject> Outbounds, IReadOnlyList<string> Notes);

    public static bool Looks(string text) => HasLinkLine(text) || (ShareLinks.DecodeBase64(text.Trim()) is { } d && HasLinkLine(d));

    /// <summary>
    /// Some line is a share link: a plain list need not start with one (Shadowrocket-style providers open it with
    /// STATUS= / REMARKS= lines, others with a # comment); the lines that are not links become notes.
    /// </summary>
    private static bool HasLinkLine(string text) => text.Split('\n').Any(l => ShareLinks.IsLink(l.Trim()));

    public static Result Parse(string text, string source)
    {
        string body = text.Trim();
        if (!HasLinkLine(body))
            body = ShareLinks.DecodeBase64(body) ?? throw new ImportException($"{source}: neither share links nor base64 of share links");
        var outbounds = new List<JsonObject>();
        var notes = new List<string>();
        var tags = new HashSet<string>(StringComparer.Ordinal);
        int lineNo = 0;
        foreach (var raw in body.Split('\n'))
        {
            lineNo++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            try
            {
                int at = lineNo;
                var o = ShareLinks.Parse(line, $"proxy-{outbounds.Count + 1}", note => notes.Add($"{source}: line {at}: {note}"));
                string tag = o["tag"]!.GetValue<string>();
                for (int n = 2; !tags.Add(tag); n++) tag = $"{o["tag"]!.GetValue<string>()}-{n}";
                o["tag"] = tag;
                outbounds.Add(o);
            }
            catch (ImportException e)
            {
                notes.Add($"{source}: line {lineNo} skipped: {e.Message}");
            }
        }
        if (outbounds.Count == 0)
            throw new ImportException(notes.Count > 0 ? notes[0] : $"{source}: no share links in it");
        return new Result(outbounds, notes);
    }

    /// <summary>
    /// Parses a fetched or read body in whichever format it is: share links (plain or base64) or a
    /// Clash YAML <c>proxies:</c> list. Subscriptions use this for every fetch.
    /// </summary>
    public static Result ParseAny(string text, string source)
    {
        if (Looks(text)) return Parse(text, source);
        if (ClashYaml.Looks(text)) return ClashYaml.Parse(text, source);
        throw new ImportException($"{source}: neither share links, base64 of share links, nor a Clash YAML \"proxies:\" list");
    }

    /// <summary>A server that is an endpoint (a WireGuard peer: wireguard:// or Clash type: wireguard), not an outbound.</summary>
    public static bool IsEndpoint(JsonObject server) => (string?)server["type"] == "wireguard";

    /// <summary>
    /// A complete config: TUN with auto_route, the servers, a group "proxy" over them as the final
    /// outbound (urltest for share links; selector for Clash lists, as Clash users choose by hand).
    /// </summary>
    public static string RenderConfig(IReadOnlyList<JsonObject> servers, string groupType = "urltest")
    {
        var outbounds = new JsonArray(new JsonObject { ["type"] = "direct", ["tag"] = "direct" });
        var endpoints = new JsonArray();
        var tags = new JsonArray();
        foreach (var s in servers)
        {
            (IsEndpoint(s) ? endpoints : outbounds).Add(s.DeepClone());
            tags.Add((JsonNode)s["tag"]!.GetValue<string>());
        }
        var group = new JsonObject { ["type"] = groupType, ["tag"] = "proxy", ["outbounds"] = tags };
        if (groupType != "selector") group["interval"] = "1m";
        outbounds.Add((JsonNode)group);
        var config = new JsonObject
        {
            ["log"] = new JsonObject { ["level"] = "info" },
            ["inbounds"] = new JsonArray(new JsonObject
            {
                ["type"] = "tun", ["tag"] = "tun-in", ["address"] = new JsonArray("172.19.0.1/30", "fdfe:dcba:9876::1/126"),
                ["auto_route"] = true,
            }),
            ["outbounds"] = outbounds,
            ["route"] = new JsonObject { ["rules"] = new JsonArray(), ["final"] = "proxy" },
        };
        if (endpoints.Count > 0) config["endpoints"] = endpoints;
        return config.ToJsonString(ConfigJson.Readable) + "\n";
    }
}
