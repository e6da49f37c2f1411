namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// RFC 6479 anti-replay bitmap as WireGuard sizes it: a ring of 128 blocks of 64 bits, of which one block
/// is always being recycled, so the window is 8128 counters behind the highest seen. A counter exactly
/// 8128 behind is still accepted; 8129 behind is not. Not thread-safe: the keypair's receive lock guards it.
/// </summary>
internal sealed class ReplayWindow
{
    private const int BlockBitLog = 6;
    private const int BlockBits = 1 << BlockBitLog;
    private const int RingBlocks = 128;
    private const ulong BlockMask = RingBlocks - 1;
    private const ulong BitMask = BlockBits - 1;

    public const ulong WindowSize = (RingBlocks - 1) * BlockBits; // 8128

    private readonly ulong[] _ring = new ulong[RingBlocks];
    private ulong _last;

    /// <summary>Marks <paramref name="counter"/> seen; false for a duplicate, a counter too old, or one at/over <paramref name="limit"/>.</summary>
    public bool TryAccept(ulong counter, ulong limit)
    {
        if (counter >= limit) return false;
        ulong block = counter >> BlockBitLog;
        if (counter > _last)
        {
            // Clear every block the window slides over (at most the whole ring).
            ulong current = _last >> BlockBitLog;
            ulong advance = Math.Min(block - current, RingBlocks);
            for (ulong i = 1; i <= advance; i++) _ring[(current + i) & BlockMask] = 0;
            _last = counter;
        }
        else if (_last - counter > WindowSize)
        {
            return false;
        }

        ref ulong bits = ref _ring[block & BlockMask];
        ulong bit = 1UL << (int)(counter & BitMask);
        if ((bits & bit) != 0) return false;
        bits |= bit;
        return true;
    }

    /// <summary>True when <paramref name="counter"/> could still be accepted (no state change); a cheap pre-check before decrypting.</summary>
    public bool MightAccept(ulong counter, ulong limit)
    {
        if (counter >= limit) return false;
        if (counter > _last) return true;
        if (_last - counter > WindowSize) return false;
        return (_ring[(counter >> BlockBitLog) & BlockMask] & (1UL << (int)(counter & BitMask))) == 0;
    }
}
