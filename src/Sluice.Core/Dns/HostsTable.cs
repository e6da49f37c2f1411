using Microsoft.Extensions.Logging;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>
/// The "hosts" server's names: predefined entries first, then hosts files ("address name [aliases…]"
/// per line, '#' comments; lines whose first field is not an address are skipped, as glibc does).
/// Names are lowercase without a trailing dot. <see cref="Reload"/> reads the files again and swaps
/// the whole table at once; lookups never see half a file.
/// </summary>
internal sealed class HostsTable
{
    private readonly HostsDnsServerOptions _options;
    private readonly ILogger _logger;
    private volatile Names _names;

    public HostsTable(HostsDnsServerOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _names = Read(previous: null, out _)!;
    }

    /// <summary>The files this table reads (empty when it has only predefined entries).</summary>
    public IReadOnlyList<string> Paths => _options.Paths;

    public bool TryGet(ReadOnlySpan<char> name, out NetAddress[] addresses) => _names.Lookup.TryGetValue(name, out addresses!);

    /// <summary>
    /// Reads the files again (called when one changed on disk). A file that cannot be read, or that
    /// now holds no entry where it held some (caught mid-write), keeps the previous table; either way
    /// one line is logged. Returns whether the new table is in use.
    /// </summary>
    public bool Reload()
    {
        var next = Read(_names, out string? problem);
        if (next is null)
        {
            DnsLog.HostsReloadFailed(_logger, _options.Tag, problem!);
            return false;
        }
        _names = next;
        DnsLog.HostsReloaded(_logger, _options.Tag, string.Join(", ", _options.Paths), next.FromFiles);
        return true;
    }

    /// <summary>The table from the predefined entries and the files; null (with the problem) when a reload must keep <paramref name="previous"/>.</summary>
    private Names? Read(Names? previous, out string? problem)
    {
        problem = null;
        var names = new Dictionary<string, NetAddress[]>(StringComparer.Ordinal);
        foreach (var (name, addresses) in _options.Predefined) names[name] = addresses.ToArray();
        var fromFiles = new Dictionary<string, List<NetAddress>>(StringComparer.Ordinal);
        var perFile = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string path in _options.Paths)
        {
            string[] lines;
            try
            {
                lines = System.Text.Encoding.UTF8.GetString(_options.Files.Read(path, EngineLimits.Default.HostsFileBytes)).Split(['\n', '\r']);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (previous is not null)
                {
                    problem = $"cannot read {path}: {e.Message}";
                    return null;
                }
                DnsLog.HostsFileUnreadable(_logger, _options.Tag, path, e.Message);
                continue;
            }
            int entries = 0;
            foreach (string raw in lines)
            {
                int hash = raw.IndexOf('#');
                string line = hash >= 0 ? raw[..hash] : raw;
                string[] fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 2 || !NetAddress.TryParse(fields[0], out var address)) continue;
                foreach (string name in fields.Skip(1))
                {
                    string key = name.TrimEnd('.').ToLowerInvariant();
                    if (names.ContainsKey(key)) continue; // predefined wins
                    if (!fromFiles.TryGetValue(key, out var list)) fromFiles[key] = list = [];
                    if (!list.Contains(address)) list.Add(address);
                    entries++;
                }
            }
            if (entries == 0 && previous is not null && previous.PerFile.GetValueOrDefault(path) > 0)
            {
                problem = $"{path} has no entries now (it had {previous.PerFile[path]}); a file being written?";
                return null;
            }
            perFile[path] = entries;
        }
        foreach (var (name, list) in fromFiles) names[name] = list.ToArray();
        return new Names(names, perFile, fromFiles.Count);
    }

    /// <summary>One immutable table.</summary>
    private sealed class Names
    {
        public Names(Dictionary<string, NetAddress[]> names, Dictionary<string, int> perFile, int fromFiles)
        {
            Lookup = names.GetAlternateLookup<ReadOnlySpan<char>>();
            PerFile = perFile;
            FromFiles = fromFiles;
        }

        public Dictionary<string, NetAddress[]>.AlternateLookup<ReadOnlySpan<char>> Lookup { get; }

        /// <summary>Entries each file gave (name and address pairs).</summary>
        public Dictionary<string, int> PerFile { get; }

        /// <summary>Names the files gave.</summary>
        public int FromFiles { get; }
    }
}
