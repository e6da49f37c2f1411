using System.Text.Json.Nodes;
using Sluice.Core.Subscriptions;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A proxy provider's <c>header</c>, <c>override</c> and <c>dialer-proxy</c> (mihomo's wiki, proxy-providers):
/// 1. <c>header</c> (name → values) → the subscription's <c>headers</c> (providers pick the list's format, or refuse, by the
///    User-Agent);
/// 2. <c>override</c>: <c>additional-prefix</c> / <c>additional-suffix</c> → <c>tag_prefix</c> / <c>tag_suffix</c>,
///    <c>proxy-name</c> ({pattern, target}) → <c>tag_replace</c>, <c>dialer-proxy</c> (there or on the provider) →
///    <c>detour</c>, <c>udp</c> → <c>udp</c>, <c>skip-cert-verify</c> → <c>tls_insecure</c>; the rest (tfo, mptcp, up, down,
///    interface-name, routing-mark, ip-version, udp-over-tcp) is named in a note.
/// mihomo renames after the provider's own filter and Sluice before it (so a group's filter sees the new names in both);
/// a provider with both a renaming override and a filter of its own gets a note.
/// </summary>
public static partial class ClashYaml
{
    /// <param name="Override">The provider's override: a subscription's "override" object (<see cref="ServerOverride.ToJson"/>), or applied now to
    /// the servers of a file or inline provider.</param>
    /// <param name="Headers">The subscription's "headers" object; null when it sends none.</param>
    private sealed record ProviderExtras(ServerOverride Override, JsonObject? Headers);

    private static readonly string[] OverridesNotCarried = ["tfo", "mptcp", "udp-over-tcp", "up", "down", "interface-name", "routing-mark", "ip-version"];

    /// <summary>The provider's header and override; what cannot be carried over is added to <paramref name="unhonoured"/>.</summary>
    private static ProviderExtras ReadProviderExtras(YamlMappingNode entry, HashSet<string> taken, List<string> unhonoured)
    {
        string? prefix = null, suffix = null, detour = null;
        bool? udp = null;
        bool insecure = false;
        var replace = new List<TagReplacement>();
        if (entry.Children.TryGetValue(new YamlScalarNode("override"), out var node) && node is YamlMappingNode map)
        {
            prefix = Scalar(map, "additional-prefix");
            suffix = Scalar(map, "additional-suffix");
            if (map.Children.TryGetValue(new YamlScalarNode("proxy-name"), out var names) && names is YamlSequenceNode steps)
                foreach (var step in steps.OfType<YamlMappingNode>())
                {
                    if (Scalar(step, "pattern") is not { } pattern) continue;
                    try
                    {
                        _ = ServerFilter.Compile(pattern, EngineLimits.Default.NameFilterTimeout);
                        replace.Add(new TagReplacement(pattern, Scalar(step, "target") ?? ""));
                    }
                    catch (ArgumentException)
                    {
                        unhonoured.Add($"override.proxy-name \"{pattern}\" (not an expression .NET reads)");
                    }
                }
            detour = Scalar(map, "dialer-proxy");
            if (Scalar(map, "udp") is { } u) udp = !IsFalse(u);
            insecure = IsTrue(Scalar(map, "skip-cert-verify"));
            unhonoured.AddRange(OverridesNotCarried.Where(k => map.Children.ContainsKey(new YamlScalarNode(k))).Select(k => $"override.{k}"));
        }
        detour ??= Scalar(entry, "dialer-proxy");
        if (detour is "DIRECT" or "") detour = null; // the servers' own sockets: what no detour means
        else if (detour is not null && !taken.Contains(detour))
        {
            unhonoured.Add($"dialer-proxy \"{detour}\" (no proxy or group of that name)");
            detour = null;
        }

        return new ProviderExtras(new ServerOverride(prefix, suffix, replace, detour, udp, insecure), ReadHeaders(entry, unhonoured));
    }

    /// <summary>header: {Name: [values]} (or one value); a name or value an HTTP request cannot carry is noted and left out.</summary>
    private static JsonObject? ReadHeaders(YamlMappingNode entry, List<string> unhonoured)
    {
        if (!entry.Children.TryGetValue(new YamlScalarNode("header"), out var node) || node is not YamlMappingNode map) return null;
        var headers = new JsonObject();
        foreach (var (key, value) in map.Children)
        {
            string name = (key as YamlScalarNode)?.Value ?? "";
            var values = value switch
            {
                YamlSequenceNode list => list.OfType<YamlScalarNode>().Select(v => v.Value ?? "").ToList(),
                YamlScalarNode one => [one.Value ?? ""],
                _ => [],
            };
            if (!Outbounds.Transport.TransportOptionsParser.IsToken(name) || values.Count == 0 || values.Any(v => v.Any(c => c is '\r' or '\n' or '\0')))
            {
                unhonoured.Add($"header \"{name}\" (not a header an HTTP request can carry)");
                continue;
            }
            headers[name] = values.Count == 1 ? values[0] : new JsonArray(values.Select(v => (JsonNode)v).ToArray());
        }
        return headers.Count > 0 ? headers : null;
    }
}
