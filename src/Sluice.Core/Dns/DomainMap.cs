using System.Collections.Concurrent;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>The IP → domain map that feeds the router: real answers the server gave, and fake IPs.</summary>
public interface IDomainMap
{
    /// <summary>The name an address was answered for (lowercase, no trailing dot).</summary>
    bool TryGetDomain(NetAddress address, out string domain);

    /// <summary>True when the address lies in a fakeip server's range (whether or not it is assigned now).</summary>
    bool IsFakeIp(NetAddress address);
}

/// <summary>
/// Fake IPs first (they are exact and authoritative), then the addresses of real answers. The real
/// side is bounded by two generations: when the current one is full it becomes the previous one and
/// the oldest generation is dropped, so memory stays under 2 × capacity without per-entry bookkeeping.
/// An address answered for two names maps to the one answered last.
/// </summary>
internal sealed class DomainMap : IDomainMap
{
    private readonly FakeIpPool[] _fakePools;
    private readonly int _capacity;
    private readonly Lock _rotate = new();
    private ConcurrentDictionary<NetAddress, string> _current = new();
    private ConcurrentDictionary<NetAddress, string> _previous = new();

    public DomainMap(IEnumerable<FakeIpPool> fakePools, int capacity)
    {
        _fakePools = fakePools.ToArray();
        _capacity = Math.Max(16, capacity);
    }

    public int Count => _current.Count + _previous.Count;

    public bool TryGetDomain(NetAddress address, out string domain)
    {
        foreach (var pool in _fakePools)
        {
            if (pool.Contains(address)) return pool.TryGetName(address, out domain);
        }
        if (_current.TryGetValue(address, out domain!)) return true;
        return _previous.TryGetValue(address, out domain!);
    }

    public bool IsFakeIp(NetAddress address)
    {
        foreach (var pool in _fakePools)
        {
            if (pool.Contains(address)) return true;
        }
        return false;
    }

    /// <summary>Allocates the string only when the address is new or its name changed.</summary>
    public void Remember(NetAddress address, ReadOnlySpan<char> domain)
    {
        if (_current.TryGetValue(address, out string? known) && domain.SequenceEqual(known)) return;
        Remember(address, domain.ToString());
    }

    public void Remember(NetAddress address, string domain)
    {
        var current = _current;
        if (current.TryGetValue(address, out string? known) && known == domain) return;
        if (current.Count >= _capacity)
        {
            lock (_rotate)
            {
                if (ReferenceEquals(current, _current))
                {
                    _previous = current;
                    _current = new ConcurrentDictionary<NetAddress, string>();
                }
                current = _current;
            }
        }
        current[address] = domain;
    }
}
