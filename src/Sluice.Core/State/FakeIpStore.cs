using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Core.Dns;
using Sluice.Packets;

namespace Sluice.Core.State;

/// <summary>
/// store_fakeip: the fake address pools of the DNS server saved in the cache file ("fakeip": {"SERVER/4":
/// {"next": N, "names": [[name, address], ...]}}) and put back at start, so an app that kept an old
/// fake address still reaches its name after a restart.
/// </summary>
internal static class FakeIpStore
{
    public static int Attach(CacheFile cache, DnsServer dns, TimeProvider time)
    {
        var pools = dns.FakePools.ToArray();
        int restored = 0;
        if (cache.Section("fakeip") is JsonObject saved)
        {
            foreach (var (key, pool) in pools)
            {
                if (saved[key] is not JsonObject s) continue;
                var next = UInt128.TryParse(s["next"]?.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : UInt128.One;
                var entries = new List<(string, NetAddress)>();
                if (s["names"] is JsonArray names)
                {
                    foreach (var item in names)
                    {
                        if (item is JsonArray { Count: 2 } pair && pair[0]?.GetValue<string>() is { } name
                            && NetAddress.TryParse(pair[1]?.GetValue<string>(), out var address))
                            entries.Add((name, address));
                    }
                }
                restored += pool.Restore(next, entries);
            }
        }
        var versions = pools.Select(p => p.Pool.Version).ToArray();
        cache.Contribute(entry =>
        {
            bool changed = false;
            for (int i = 0; i < pools.Length; i++) changed |= pools[i].Pool.Version != versions[i];
            if (!changed && entry["fakeip"] is not null) return false;
            var section = new JsonObject();
            for (int i = 0; i < pools.Length; i++)
            {
                versions[i] = pools[i].Pool.Version;
                var (next, list) = pools[i].Pool.Export();
                var names = new JsonArray();
                foreach (var (name, address) in list) names.Add((JsonNode)new JsonArray(name, address.ToString()));
                section[pools[i].Key] = new JsonObject { ["next"] = next.ToString(CultureInfo.InvariantCulture), ["names"] = names };
            }
            entry["fakeip"] = section;
            return true;
        });
        // New addresses are saved within a few seconds; a poll avoids a call on the DNS answer path.
        var timer = time.CreateTimer(_ =>
        {
            for (int i = 0; i < pools.Length; i++)
                if (pools[i].Pool.Version != versions[i]) cache.MarkDirty();
        }, null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
        cache.Owned.Add(timer);
        return restored;
    }
}
