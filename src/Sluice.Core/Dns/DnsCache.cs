using System.Buffers.Binary;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>
/// A response as the cache keeps it: the upstream's message cut after the authority section (OPT and
/// other additional records dropped, ARCOUNT 0, ID 0), plus where each TTL sits so a hit can count
/// them down in the copy it writes. The bytes are never modified after construction.
/// </summary>
internal sealed class DnsAnswer
{
    public DnsAnswer(byte[] message, int questionEnd, int[] ttlOffsets, uint ttl, long storedAt, NetAddress[] addresses, string domain)
    {
        Message = message;
        QuestionEnd = questionEnd;
        TtlOffsets = ttlOffsets;
        Ttl = ttl;
        StoredAt = storedAt;
        Addresses = addresses;
        Domain = domain;
    }

    /// <summary>A and AAAA addresses of the answer section, for the IP → domain map and engine lookups.</summary>
    public NetAddress[] Addresses { get; }

    /// <summary>The question name in text form (lowercase, no trailing dot).</summary>
    public string Domain { get; }

    public byte[] Message { get; }

    public int QuestionEnd { get; }

    public int[] TtlOffsets { get; }

    /// <summary>Seconds the answer may be cached: the smallest answer TTL, or for NXDOMAIN/NODATA the SOA's (RFC 2308 5).</summary>
    public uint Ttl { get; }

    public long StoredAt { get; }

    public DnsRcode Rcode => (DnsRcode)(DnsWire.Flags(Message) & DnsWire.RcodeMask);

    /// <summary>
    /// Copies the answer into <paramref name="destination"/> with TTLs capped at the cache TTL (so a
    /// negative answer's SOA says how long the negation holds, RFC 2308 5) and reduced by the whole
    /// seconds since it was stored (never below 0), or every one set to <paramref name="rewriteTtl"/>; returns the bytes written.
    /// </summary>
    public int CopyTo(Span<byte> destination, uint elapsedSeconds, uint? rewriteTtl = null)
    {
        Message.CopyTo(destination);
        foreach (int offset in TtlOffsets)
        {
            uint ttl = Math.Min(BinaryPrimitives.ReadUInt32BigEndian(Message.AsSpan(offset)), Ttl);
            BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], rewriteTtl ?? (ttl > elapsedSeconds ? ttl - elapsedSeconds : 0));
        }
        return Message.Length;
    }
}

/// <summary>
/// A bounded LRU of answers keyed by the question in wire form (lowercased name, type, class, and the
/// server's index when caches are independent). Lookups take a span and do not allocate; one lock
/// guards the map and the recency list (each hold is a hash probe and two pointer moves).
/// </summary>
internal sealed class DnsCache
{
    private readonly int _capacity;
    private readonly TimeProvider _time;
    private readonly Dictionary<byte[], LinkedListNode<(byte[] Key, DnsAnswer Answer)>> _map;
    private readonly Dictionary<byte[], LinkedListNode<(byte[] Key, DnsAnswer Answer)>>.AlternateLookup<ReadOnlySpan<byte>> _spanMap;
    private readonly LinkedList<(byte[] Key, DnsAnswer Answer)> _recency = new();
    private readonly Lock _lock = new();

    public DnsCache(int capacity, TimeProvider time)
    {
        _capacity = Math.Max(1, capacity);
        _time = time;
        _map = new Dictionary<byte[], LinkedListNode<(byte[], DnsAnswer)>>(ByteKeyComparer.Instance);
        _spanMap = _map.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count
    {
        get
        {
            lock (_lock) return _map.Count;
        }
    }

    /// <summary>A live answer and the whole seconds since it was stored; expired entries are removed.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out DnsAnswer answer, out uint elapsedSeconds)
    {
        long now = _time.GetTimestamp();
        lock (_lock)
        {
            if (_spanMap.TryGetValue(key, out var node))
            {
                var candidate = node.Value.Answer;
                double seconds = (now - candidate.StoredAt) / (double)_time.TimestampFrequency;
                if (seconds < candidate.Ttl)
                {
                    _recency.Remove(node);
                    _recency.AddFirst(node);
                    answer = candidate;
                    elapsedSeconds = (uint)Math.Max(0, seconds);
                    return true;
                }
                _recency.Remove(node);
                _map.Remove(node.Value.Key);
            }
        }
        answer = null!;
        elapsedSeconds = 0;
        return false;
    }

    public void Store(byte[] key, DnsAnswer answer)
    {
        if (answer.Ttl == 0) return;
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var existing))
            {
                _recency.Remove(existing);
                _map.Remove(existing.Value.Key);
            }
            while (_map.Count >= _capacity && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _map.Remove(oldest.Value.Key);
            }
            _map[key] = _recency.AddFirst((key, answer));
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _map.Clear();
            _recency.Clear();
        }
    }
}

/// <summary>Byte-array keys compared by content, with span lookups so a probe needs no array.</summary>
internal sealed class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteKeyComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate)
    {
        var hash = new HashCode();
        hash.AddBytes(alternate);
        return hash.ToHashCode();
    }

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
