using Microsoft.Extensions.Logging;

namespace Sluice.Core.Outbounds.Groups;

/// <summary>
/// The members of a group that subscriptions feed, as mihomo builds a group from its proxies and providers: the group's
/// own outbounds first, then the servers of each feed in the feeds' order (the order of the subscriptions in the config),
/// whatever order their fetches finish in. A member's tag names it in the API and the cache file, so a tag already
/// taken (by an own outbound or an earlier feed) is left out, with a log line: the first one keeps the name.
/// </summary>
internal sealed partial class GroupFeeds(string group, ILogger logger)
{
    private readonly SortedDictionary<int, IReadOnlyList<IOutbound>> _feeds = [];
    private readonly object _lock = new();

    /// <summary>Records feed <paramref name="feed"/>'s servers and hands the whole new member list to <paramref name="apply"/>, one update at a time.</summary>
    public void Set(int feed, IReadOnlyList<IOutbound> servers, Func<IEnumerable<IOutbound>> own, Action<IReadOnlyList<IOutbound>> apply)
    {
        lock (_lock)
        {
            _feeds[feed] = servers;
            var members = new List<IOutbound>();
            var tags = new HashSet<string>(StringComparer.Ordinal);
            foreach (var o in own()) if (tags.Add(o.Tag)) members.Add(o);
            foreach (var o in _feeds.Values.SelectMany(list => list))
            {
                if (tags.Add(o.Tag)) members.Add(o);
                else LogShadowed(logger, group, o.Tag);
            }
            apply(members);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {Group}: a fed server named \"{Server}\" is left out: the group already has a member of that name")]
    private static partial void LogShadowed(ILogger logger, string group, string server);
}
