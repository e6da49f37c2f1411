using Sluice.Core.Outbounds.WireGuard;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

public static partial class ClashYaml
{
    /// <summary>Entries merge keys may copy into a document: far above any profile (a few hundred), far below what hurts.</summary>
    public const int MaxMergedEntries = 100_000;

    private static readonly YamlScalarNode MergeKey = new("<<");

    /// <summary>
    /// YAML merge keys, as mihomo's YAML reader resolves them: profiles write shared fields once (<c>p: &amp;p {type: http,
    /// interval: 86400}</c>) and merge them (<c>Sub1: {&lt;&lt;: *p, url: …}</c>). A mapping's own keys win over merged
    /// ones, and of several merged mappings (<c>&lt;&lt;: [*a, *b]</c>) the earlier wins. Aliases share their node, so each
    /// mapping is resolved once; the entries copied are bounded by <see cref="MaxMergedEntries"/> (a chain of merges
    /// could otherwise grow quadratically), and alias chains by a depth limit.
    /// </summary>
    private static void ResolveMerges(YamlNode root, string source)
    {
        int budget = MaxMergedEntries;
        var done = new HashSet<YamlNode>(ReferenceEqualityComparer.Instance);
        Resolve(root, 0);

        void Resolve(YamlNode node, int depth)
        {
            if (!done.Add(node)) return;
            if (depth > 4 * MaxDepth)
                throw new ImportException($"{source}: line {node.Start.Line}: anchors and aliases nested deeper than {4 * MaxDepth} levels");
            if (node is YamlSequenceNode sequence)
            {
                foreach (var item in sequence) Resolve(item, depth + 1);
                return;
            }
            if (node is not YamlMappingNode map) return;
            foreach (var value in map.Children.Values.ToList()) Resolve(value, depth + 1);
            if (!map.Children.TryGetValue(MergeKey, out var merge)) return;
            map.Children.Remove(MergeKey);
            foreach (var from in merge is YamlSequenceNode list ? list.ToList() : [merge])
            {
                if (from is not YamlMappingNode merged)
                    throw new ImportException($"{source}: line {from.Start.Line}: a merge key (<<) must name a mapping (an anchor like *name) or a list of them");
                foreach (var (key, value) in merged.Children)
                {
                    if (map.Children.ContainsKey(key)) continue;
                    if (--budget < 0) throw new ImportException($"{source}: merge keys (<<) copy more than {MaxMergedEntries} entries");
                    map.Children.Add(key, value);
                }
            }
        }
    }
}
