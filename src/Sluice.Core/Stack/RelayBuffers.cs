using System.Buffers;

namespace Sluice.Core.Stack;

/// <summary>
/// The relays' buffers and their engine-wide budget. A relay direction rents one buffer while bytes
/// are in flight (<see cref="StreamPump"/>): a large one (<see cref="EngineLimits.RelayBuffer"/>, a full
/// TCP window per read) while the bytes of every relay buffer in use stay within
/// <see cref="EngineLimits.RelayBufferBudget"/>, a small one (<see cref="EngineLimits.RelayBufferSmall"/>)
/// beyond. Invariant: <see cref="BytesInUse"/> is the sum of the lengths of the buffers rented and not
/// yet returned, so it is 0 once every relay has ended. A relay is never refused a buffer (a relay waiting
/// for one that another relay holds while its own peer waits for the first could deadlock), so memory is
/// the budget plus one small buffer per busy direction beyond it.
/// </summary>
internal sealed class RelayBuffers
{
    private readonly long _budget;
    private long _inUse;
    private long _largeRented;
    private long _smallRented;

    /// <param name="large">Bytes of a large buffer (also the size when the budget is off).</param>
    /// <param name="small">Bytes of a small buffer; at least 4 KiB, at most <paramref name="large"/>.</param>
    /// <param name="budget">Bytes of relay buffers in use beyond which only small ones are rented; 0: only small ones.</param>
    public RelayBuffers(int large, int small, long budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(large, 4096);
        ArgumentOutOfRangeException.ThrowIfLessThan(small, 4096);
        ArgumentOutOfRangeException.ThrowIfNegative(budget);
        LargeSize = large;
        SmallSize = Math.Min(small, large);
        _budget = budget;
    }

    /// <summary>The engine's limits' sizes and budget.</summary>
    public RelayBuffers(EngineLimits limits) : this(limits.RelayBuffer, limits.RelayBufferSmall, limits.RelayBufferBudget)
    {
    }

    public int LargeSize { get; }

    public int SmallSize { get; }

    /// <summary>Bytes of the relay buffers rented and not yet returned.</summary>
    public long BytesInUse => Volatile.Read(ref _inUse);

    /// <summary>Rentals that got a large buffer, and a small one, since start (for the metrics and the tests).</summary>
    public long LargeRented => Volatile.Read(ref _largeRented);

    public long SmallRented => Volatile.Read(ref _smallRented);

    /// <summary>A large buffer when the budget has room for it, a small one otherwise.</summary>
    public byte[] Rent()
    {
        if (Interlocked.Add(ref _inUse, LargeSize) <= _budget || SmallSize == LargeSize)
        {
            var large = ArrayPool<byte>.Shared.Rent(LargeSize);
            Interlocked.Add(ref _inUse, large.Length - LargeSize);
            Interlocked.Increment(ref _largeRented);
            return large;
        }
        var small = ArrayPool<byte>.Shared.Rent(SmallSize);
        Interlocked.Add(ref _inUse, small.Length - LargeSize);
        Interlocked.Increment(ref _smallRented);
        return small;
    }

    /// <summary>True for a buffer that counts against the budget as a large one.</summary>
    public bool IsLarge(byte[] buffer) => buffer.Length > SmallSize;

    public void Return(byte[] buffer)
    {
        Interlocked.Add(ref _inUse, -buffer.Length);
        ArrayPool<byte>.Shared.Return(buffer);
    }
}
