namespace Sluice.Core.RuleSets.Srs;

/// <summary>
/// The .srs domain item: a set of byte keys as a LOUDS-encoded trie (sing's "succinct set"; mihomo's .mrs domain set
/// is the same trie in another framing, see Mrs/MrsReader). Nodes are
/// numbered breadth first; the label bitmap holds, node after node, one 0 bit per child (its label in
/// <c>labels</c>, in byte order) and a 1 bit ending the node; the k-th label (counting from 0 over all
/// nodes) leads to node k + 1. A leaf bit marks nodes where a key ends.
/// Encoding: a version byte (0), then leaves and label bitmap as uvarint word counts and big-endian
/// 64-bit words (bit i is word i/64, bit i%64), then uvarint length and the label bytes.
/// </summary>
internal static class SuccinctDomainSet
{
    /// <summary>Longest key accepted when reading: a DNS name is at most 253 characters (UTF-8 may be longer).</summary>
    private const int MaxKeyBytes = 1024;

    /// <summary>Encodes sorted, distinct keys exactly as sing's writer lays them out.</summary>
    public static void Write(SrsBuffer output, IReadOnlyList<byte[]> sortedKeys)
    {
        if (sortedKeys.Count == 0) throw new ArgumentException("a domain set needs at least one key", nameof(sortedKeys));
        var leaves = new List<ulong>();
        var bitmap = new List<ulong>();
        var labels = new List<byte>();
        int bit = 0;
        var queue = new List<(int Start, int End, int Column)> { (0, sortedKeys.Count, 0) };
        for (int node = 0; node < queue.Count; node++)
        {
            var (start, end, column) = queue[node];
            if (column == sortedKeys[start].Length)
            {
                start++;
                SetBit(leaves, node, true);
            }
            for (int j = start; j < end;)
            {
                int from = j;
                byte label = sortedKeys[from][column];
                while (j < end && sortedKeys[j][column] == label) j++;
                queue.Add((from, j, column + 1));
                labels.Add(label);
                SetBit(bitmap, bit++, false);
            }
            SetBit(bitmap, bit++, true);
        }
        output.Byte(0);
        Words(output, leaves);
        Words(output, bitmap);
        output.Uvarint((ulong)labels.Count);
        output.Bytes(labels.ToArray());
    }

    /// <summary>Decodes the set and returns its keys (in trie order); throws <see cref="RuleSetFormatException"/> on a malformed set.</summary>
    public static List<byte[]> ReadKeys(ref SrsCursor input)
    {
        input.Byte(); // version: sing ignores it, so does this reader
        ulong[] leaves = input.UInt64s("domain set leaves");
        ulong[] bitmap = input.UInt64s("domain set label bitmap");
        int labelCount = input.Count(1, "domain set labels");
        return Keys(leaves, bitmap, input.Bytes(labelCount), EngineLimits.Default.RuleSetFileBytes);
    }

    /// <summary>
    /// The keys of a LOUDS trie (the layout above, shared by sing's .srs and mihomo's .mrs domain sets), in trie order.
    /// The keys' bytes together may not pass <paramref name="maxKeyBytes"/>: a few labels can describe many long keys.
    /// </summary>
    /// <exception cref="RuleSetFormatException">The bitmap and labels do not describe one tree, or the keys are too long.</exception>
    public static List<byte[]> Keys(ulong[] leaves, ulong[] bitmap, ReadOnlySpan<byte> labels, long maxKeyBytes)
    {
        // Walk the bitmap once: node n's labels are the zeros between its 1 bits.
        int labelCount = labels.Length;
        int nodes = labelCount + 1;
        var parent = new int[nodes];
        var depth = new int[nodes];
        parent[0] = -1;
        int node = 0, label = 0;
        long totalBits = (long)bitmap.Length * 64;
        for (long i = 0; i < totalBits && node < nodes; i++)
        {
            bool one = (bitmap[i >> 6] & (1UL << (int)(i & 63))) != 0;
            if (one)
            {
                node++;
                continue;
            }
            if (label >= labelCount) throw new RuleSetFormatException("domain set: the bitmap has more children than labels");
            int child = label + 1;
            if (child <= node) throw new RuleSetFormatException("domain set: a child comes before its parent");
            parent[child] = node;
            depth[child] = depth[node] + 1;
            if (depth[child] > MaxKeyBytes) throw new RuleSetFormatException($"domain set: a key is longer than {MaxKeyBytes} bytes");
            label++;
        }
        if (node != nodes || label != labelCount)
            throw new RuleSetFormatException($"domain set: {labelCount} labels but the bitmap describes {node} node(s) and {label} child(ren)");

        long total = 0;
        for (int n = 0; n < nodes && (n >> 6) < leaves.Length; n++)
        {
            if ((leaves[n >> 6] & (1UL << (n & 63))) != 0 && (total += depth[n]) > maxKeyBytes)
                throw new RuleSetFormatException($"domain set: its names come to more than {maxKeyBytes} bytes; refused");
        }
        var keys = new List<byte[]>();
        for (int n = 0; n < nodes; n++)
        {
            if ((n >> 6) >= leaves.Length) break;
            if ((leaves[n >> 6] & (1UL << (n & 63))) == 0) continue;
            var key = new byte[depth[n]];
            for (int at = n, k = key.Length - 1; at > 0; at = parent[at], k--) key[k] = labels[at - 1];
            keys.Add(key);
        }
        return keys;
    }

    private static void SetBit(List<ulong> words, int index, bool value)
    {
        // sing grows the slice for a 0 bit too: the bitmap's length follows the last bit written.
        while ((index >> 6) >= words.Count) words.Add(0);
        if (value) words[index >> 6] |= 1UL << (index & 63);
    }

    private static void Words(SrsBuffer output, List<ulong> words)
    {
        output.Uvarint((ulong)words.Count);
        foreach (ulong w in words) output.UInt64(w);
    }
}
