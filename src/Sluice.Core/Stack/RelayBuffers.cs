using System.Buffers;

namespace Sluice.Core.Stack;

/// <summary>
/// The relays' buffers and their engine-wide budget. A relay direction rents one buffer while bytes
/// are in flight (<see cref="StreamPump"/>): a large one (<see cref="EngineLimits.RelayBuffer"/>, a full
/// TCP window per read) while the bytes of every relay buffer in use stay within
/// <see cref="EngineLimits.RelayBufferBudget"/>, a small one (<see cref="EngineLimits.RelayBufferSmall"/>)
/// beyond. A large buffer rented for a destination that frames its writes (Shadowsocks) counts twice: such flows are
/// mostly held up by their server, and half the share of large buffers was what kept them within the budget when each
/// also held a sealing buffer of that size; since their reads are sealed in place (no sealing buffer), the same share
/// keeps them at half the budget, which bounds the engine's memory under many busy Shadowsocks flows (issue 19). Invariant: <see cref="BytesInUse"/> is the sum of the lengths of the buffers rented and not
/// yet returned (framed large ones twice), so it is 0 once every relay has ended. A relay is never refused a buffer (a relay waiting
/// for one that another relay holds while its own peer waits for the first could deadlock), so memory is
/// the budget plus one small buffer per busy direction beyond it.
/// Small buffers come from a pool of their own that keeps those given back while as many are still in use
/// (at least <see cref="PoolFloor"/>, at most <see cref="PoolLimit"/>): under load a busy connection's next rental
/// reuses one instead of allocating, and as the load ends the pool shrinks with it, so connections that stay open
/// and idle after a burst do not keep the burst's buffers. Why not <see cref="ArrayPool{T}.Shared"/>: it keeps 32
/// arrays of a size per core and drops the rest, so 1,000 busy connections passing 16 KiB buffers allocate most of
/// them anew. <see cref="Trim"/> (the engine's memory trimmer, after a burst of flows has closed) empties the pool.
/// Large buffers stay in the shared pool (the budget bounds them).
/// </summary>
internal sealed class RelayBuffers
{
    private readonly long _budget;
    private readonly object _poolLock = new();
    private byte[]?[] _pool = new byte[]?[16];
    private int _pooled;
    private int _smallInUse; // under _poolLock
    private long _inUse;
    private long _largeRented;
    private long _smallRented;
    private long _smallAllocated;

    /// <param name="large">Bytes of a large buffer (also the size when the budget is off).</param>
    /// <param name="small">Bytes of a small buffer; at least 4 KiB, at most <paramref name="large"/>.</param>
    /// <param name="budget">Bytes of relay buffers in use beyond which only small ones are rented; 0: only small ones.</param>
    /// <param name="poolLimit">Small buffers the pool keeps at most once given back; 0: none (each is garbage once returned).</param>
    public RelayBuffers(int large, int small, long budget, int poolLimit = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(large, 4096);
        ArgumentOutOfRangeException.ThrowIfLessThan(small, 4096);
        ArgumentOutOfRangeException.ThrowIfNegative(budget);
        ArgumentOutOfRangeException.ThrowIfNegative(poolLimit);
        LargeSize = large;
        SmallSize = Math.Min(small, large);
        _budget = budget;
        PoolLimit = poolLimit;
    }

    /// <summary>The engine's limits' sizes, budget and pool bound.</summary>
    public RelayBuffers(EngineLimits limits) : this(limits.RelayBuffer, limits.RelayBufferSmall, limits.RelayBufferBudget, limits.RelayBufferPool)
    {
    }

    public int LargeSize { get; }

    public int SmallSize { get; }

    /// <summary>Small buffers kept once given back, at most.</summary>
    public int PoolLimit { get; }

    /// <summary>Small buffers the pool may keep when fewer are in use (a lone connection beyond the budget reuses its buffer).</summary>
    public int PoolFloor => Math.Min(16, PoolLimit);

    /// <summary>Bytes of the relay buffers rented and not yet returned.</summary>
    public long BytesInUse => Volatile.Read(ref _inUse);

    /// <summary>Rentals that got a large buffer, and a small one, since start (for the metrics and the tests).</summary>
    public long LargeRented => Volatile.Read(ref _largeRented);

    public long SmallRented => Volatile.Read(ref _smallRented);

    /// <summary>Small buffers allocated since start (a rental the pool could not serve).</summary>
    public long SmallAllocated => Volatile.Read(ref _smallAllocated);

    /// <summary>Small buffers in the pool now.</summary>
    public int Pooled
    {
        get
        {
            lock (_poolLock) return _pooled;
        }
    }

    private bool HasSmall => SmallSize != LargeSize;

    /// <summary>A large buffer when the budget has room for it, a small one otherwise.</summary>
    /// <param name="framed">For a destination that frames its writes (<see cref="Outbounds.IFramedWriteStream"/>): a large buffer counts twice. Return it with the same flag.</param>
    public byte[] Rent(bool framed = false)
    {
        long charge = framed ? 2L * LargeSize : LargeSize;
        if (Interlocked.Add(ref _inUse, charge) <= _budget || !HasSmall)
        {
            var large = ArrayPool<byte>.Shared.Rent(LargeSize);
            Interlocked.Add(ref _inUse, Charge(large.Length, framed) - charge);
            Interlocked.Increment(ref _largeRented);
            return large;
        }
        Interlocked.Add(ref _inUse, SmallSize - charge);
        Interlocked.Increment(ref _smallRented);
        byte[]? small = null;
        lock (_poolLock)
        {
            _smallInUse++;
            if (_pooled > 0)
            {
                small = _pool[--_pooled];
                _pool[_pooled] = null;
            }
        }
        if (small is not null) return small;
        Interlocked.Increment(ref _smallAllocated);
        return GC.AllocateUninitializedArray<byte>(SmallSize);
    }

    /// <summary>True for a buffer that counts against the budget as a large one.</summary>
    public bool IsLarge(byte[] buffer) => buffer.Length > SmallSize;

    /// <summary>Bytes a buffer counts against the budget.</summary>
    private long Charge(int length, bool framed) => framed && length > SmallSize ? 2L * length : length;

    /// <summary>Gives a rented buffer back (<paramref name="framed"/> as it was rented); the caller must not touch it afterwards (the next renter owns it).</summary>
    public void Return(byte[] buffer, bool framed = false)
    {
        Interlocked.Add(ref _inUse, -Charge(buffer.Length, framed));
        // A large buffer is longer than a small one (the shared pool rounds up, never down), so the length says which pool.
        if (!HasSmall || buffer.Length != SmallSize)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return;
        }
        lock (_poolLock)
        {
            _smallInUse--;
            int keep = Math.Min(PoolLimit, Math.Max(PoolFloor, _smallInUse));
            while (_pooled > keep) _pool[--_pooled] = null; // the load fell: the pool shrinks with it (garbage)
            if (_pooled == keep) return; // this one is garbage too
            if (_pooled == _pool.Length) Array.Resize(ref _pool, Math.Min(_pool.Length * 2, PoolLimit));
            _pool[_pooled++] = buffer;
        }
    }

    /// <summary>Gives up the pooled small buffers (those in use come back to the pool as before); returns how many.</summary>
    public int Trim()
    {
        lock (_poolLock)
        {
            int dropped = _pooled;
            _pool = new byte[]?[16];
            _pooled = 0;
            return dropped;
        }
    }
}
