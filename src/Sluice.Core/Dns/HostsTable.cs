using Microsoft.Extensions.Logging;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>
/// The "hosts" server's names: predefined entries first, then hosts files (read once at start,
/// "address name [aliases…]" per line, '#' comments). Names are lowercase without a trailing dot.
/// </summary>
internal sealed class HostsTable
{
    private readonly Dictionary<string, NetAddress[]> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NetAddress[]>.AlternateLookup<ReadOnlySpan<char>> _namesSpan;

    public HostsTable(HostsDnsServerOptions options, ILogger logger)
    {
        _namesSpan = _names.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var (name, addresses) in options.Predefined) _names[name] = addresses.ToArray();
        var fromFiles = new Dictionary<string, List<NetAddress>>(StringComparer.Ordinal);
        foreach (string path in options.Paths)
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                DnsLog.HostsFileUnreadable(logger, options.Tag, path, e.Message);
                continue;
            }
            foreach (string raw in lines)
            {
                int hash = raw.IndexOf('#');
                string line = hash >= 0 ? raw[..hash] : raw;
                string[] fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 2 || !NetAddress.TryParse(fields[0], out var address)) continue;
                foreach (string name in fields.Skip(1))
                {
                    string key = name.TrimEnd('.').ToLowerInvariant();
                    if (_names.ContainsKey(key)) continue; // predefined wins
                    if (!fromFiles.TryGetValue(key, out var list)) fromFiles[key] = list = [];
                    if (!list.Contains(address)) list.Add(address);
                }
            }
        }
        foreach (var (name, list) in fromFiles) _names[name] = list.ToArray();
    }

    public bool TryGet(ReadOnlySpan<char> name, out NetAddress[] addresses) => _namesSpan.TryGetValue(name, out addresses!);
}
