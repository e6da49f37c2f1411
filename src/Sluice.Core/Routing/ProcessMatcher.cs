using System.Text.RegularExpressions;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;

namespace Sluice.Core.Routing;

/// <summary>
/// The process part of a route or DNS rule: uid, user name, name, path, path regex (AND between kinds, OR
/// within one). A name matches Linux's <c>comm</c> (the first 15 characters) or the executable's
/// basename in full. Null from <see cref="Create"/> when the rule names no process.
/// </summary>
internal sealed class ProcessMatcher
{
    /// <summary>Linux truncates a process's comm to 15 bytes (TASK_COMM_LEN 16 with the NUL).</summary>
    public const int CommLength = 15;

    private readonly uint[]? _uids;
    private readonly string[]? _users;
    private readonly HashSet<string>? _names;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _namesSpan;
    private readonly HashSet<string>? _truncatedNames;
    private readonly HashSet<string>? _paths;
    private readonly Regex[]? _pathRegex;

    private ProcessMatcher(IReadOnlyList<uint> uids, IReadOnlyList<string> users, IReadOnlyList<string> names, IReadOnlyList<string> paths, IReadOnlyList<string> pathRegex)
    {
        _uids = uids.Count == 0 ? null : uids.ToArray();
        _users = users.Count == 0 ? null : users.ToArray();
        if (names.Count > 0)
        {
            _names = new HashSet<string>(names, StringComparer.Ordinal);
            _namesSpan = _names.GetAlternateLookup<ReadOnlySpan<char>>();
            _truncatedNames = new HashSet<string>(names.Select(n => n.Length > CommLength ? n[..CommLength] : n), StringComparer.Ordinal);
        }
        _paths = paths.Count == 0 ? null : new HashSet<string>(paths, StringComparer.Ordinal);
        _pathRegex = pathRegex.Count == 0 ? null : pathRegex.Select(r => new Regex(r, RuleParser.PathRegexOptions)).ToArray();
    }

    public static ProcessMatcher? Create(IReadOnlyList<uint> uids, IReadOnlyList<string> names, IReadOnlyList<string> paths, IReadOnlyList<string> pathRegex) =>
        Create(uids, [], names, paths, pathRegex);

    public static ProcessMatcher? Create(IReadOnlyList<uint> uids, IReadOnlyList<string> users, IReadOnlyList<string> names, IReadOnlyList<string> paths, IReadOnlyList<string> pathRegex) =>
        uids.Count + users.Count + names.Count + paths.Count + pathRegex.Count == 0 ? null : new ProcessMatcher(uids, users, names, paths, pathRegex);

    public bool Matches(ProcessInfo? process)
    {
        if (process is null) return false;
        if (_uids is not null && Array.IndexOf(_uids, process.Uid) < 0) return false;
        if (_users is not null && (process.UserName is not { } user || Array.IndexOf(_users, user) < 0)) return false;
        if (_names is not null)
        {
            bool byComm = process.Name is { } comm && _truncatedNames!.Contains(comm);
            bool byPath = process.Path is { } exe && _namesSpan.Contains(exe.AsSpan(exe.LastIndexOf('/') + 1));
            if (!byComm && !byPath) return false;
        }
        if (_paths is not null && (process.Path is not { } path || !_paths.Contains(path))) return false;
        if (_pathRegex is not null)
        {
            if (process.Path is not { } exePath) return false;
            foreach (var r in _pathRegex)
                if (r.IsMatch(exePath)) return true;
            return false;
        }
        return true;
    }
}
