using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Subscriptions;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

public static partial class ClashYaml
{
    /// <summary>
    /// mihomo's name and type filters of a provider or a group, in a subscription's terms (<see cref="ServerFilter"/>):
    /// <c>filter</c> is several expressions joined by <c>`</c> (a name one of them matches passes, and their order is the
    /// members' order); <c>exclude-filter</c> is one expression; <c>exclude-type</c> lists types joined by <c>|</c>: a
    /// provider's names the YAML types (<c>ss</c>, <c>socks5</c>, …), a group's the adapters' (<c>Shadowsocks</c>,
    /// <c>Socks5</c>, …); both spellings are read, as the sing-box type. A provider's server in a group must pass both
    /// the provider's and the group's filters: <see cref="And"/>.
    /// </summary>
    private sealed record NameFilter(IReadOnlyList<string> Keep, IReadOnlyList<string> Drop, IReadOnlyList<string> Types)
    {
        public static NameFilter None { get; } = new([], [], []);

        /// <summary>False, with why, when an expression is not one .NET reads (mihomo's regexp2 shares its syntax).</summary>
        public static bool TryRead(YamlMappingNode entry, out NameFilter filter, out string? why)
        {
            var keep = (Scalar(entry, "filter") ?? "").Split('`', StringSplitOptions.RemoveEmptyEntries).ToList();
            var drop = Scalar(entry, "exclude-filter") is { Length: > 0 } d ? new List<string> { d } : [];
            var types = (Scalar(entry, "exclude-type") ?? "").Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(SingBoxType).OfType<string>().Distinct().ToList();
            filter = new NameFilter(keep, drop, types);
            why = null;
            foreach (var (key, pattern) in keep.Select(p => ("filter", p)).Concat(drop.Select(p => ("exclude-filter", p))))
            {
                try
                {
                    _ = ServerFilter.Compile(pattern, EngineLimits.Default.NameFilterTimeout);
                }
                catch (ArgumentException e)
                {
                    why = $"its {key} \"{pattern}\" is not a regular expression Sluice reads ({e.Message})";
                    filter = None;
                    return false;
                }
            }
            return true;
        }

        /// <summary>Both must pass: a name must match one expression of each filter (a pair of lookaheads), and escape every exclusion.</summary>
        public NameFilter And(NameFilter other) => new(
            Keep.Count == 0 ? other.Keep : other.Keep.Count == 0 ? Keep
                : Keep.SelectMany(a => other.Keep.Select(b => $@"^(?=[\s\S]*?(?:{a}))(?=[\s\S]*?(?:{b}))")).ToList(),
            [.. Drop, .. other.Drop],
            Types.Union(other.Types).ToList());

        public ServerFilter Compile() => new(Keep, Drop, Types);

        /// <summary>The subscription's filter, exclude_filter and exclude_type (types Sluice has no outbound for never arrive).</summary>
        public void WriteTo(JsonObject subscription)
        {
            if (Keep.Count > 0) subscription["filter"] = new JsonArray(Keep.Select(k => (JsonNode)k).ToArray());
            if (Drop.Count > 0) subscription["exclude_filter"] = new JsonArray(Drop.Select(k => (JsonNode)k).ToArray());
            var types = Types.Where(OutboundSection.ServerTypeNames.Contains).ToList();
            if (types.Count > 0) subscription["exclude_type"] = new JsonArray(types.Select(k => (JsonNode)k).ToArray());
        }

        /// <summary>The sing-box type of a mihomo type name, either spelling; null for one Sluice never imports.</summary>
        private static string? SingBoxType(string clash) => clash.ToLowerInvariant() switch
        {
            "ss" or "shadowsocks" => "shadowsocks",
            "socks5" or "socks" => "socks",
            "http" or "vless" or "trojan" or "vmess" or "wireguard" => clash.ToLowerInvariant(),
            _ => null,
        };
    }
}
