using Sluice.Core.Stack;

namespace Sluice.Core.Tests.Stack;

public sealed class RelayBuffersTests
{
    [Fact]
    public void LargeBuffers_AreRentedWhileTheBudgetHasRoom_ThenSmallOnes_AndTheCountGoesBackToZero()
    {
        var buffers = new RelayBuffers(large: 64 * 1024, small: 16 * 1024, budget: 3 * 64 * 1024);
        var rented = Enumerable.Range(0, 5).Select(_ => buffers.Rent()).ToList();

        Assert.Equal([65536, 65536, 65536, 16384, 16384], rented.Select(b => b.Length));
        Assert.Equal(3 * 65536 + 2 * 16384, buffers.BytesInUse);

        buffers.Return(rented[0]); // one large and both small ones back: room for exactly one more large
        buffers.Return(rented[3]);
        buffers.Return(rented[4]);
        var again = buffers.Rent();
        Assert.Equal(65536, again.Length);
        var beyond = buffers.Rent();
        Assert.Equal(16384, beyond.Length);

        foreach (var b in new[] { again, beyond, rented[1], rented[2] }) buffers.Return(b);
        Assert.Equal(0, buffers.BytesInUse);
        Assert.Equal(4, buffers.LargeRented);
        Assert.Equal(3, buffers.SmallRented);
    }

    [Fact]
    public void ABudgetOfZero_RentsOnlySmallBuffers()
    {
        var buffers = new RelayBuffers(large: 128 * 1024, small: 16 * 1024, budget: 0);
        var b = buffers.Rent();
        Assert.Equal(16384, b.Length);
        Assert.False(buffers.IsLarge(b));
        buffers.Return(b);
        Assert.Equal(0, buffers.BytesInUse);
    }

    [Fact]
    public void SmallBuffersGivenBack_AreHandedOutAgain_WhileTheLoadLasts_AndThePoolShrinksWithIt()
    {
        var buffers = new RelayBuffers(large: 128 * 1024, small: 16 * 1024, budget: 0);
        var first = Enumerable.Range(0, 100).Select(_ => buffers.Rent()).ToList();
        foreach (var b in first.Take(50)) buffers.Return(b);
        Assert.Equal(50, buffers.Pooled); // 50 still in use: the 50 given back are kept

        var second = Enumerable.Range(0, 50).Select(_ => buffers.Rent()).ToList();
        Assert.Equal(100, buffers.SmallAllocated); // the first hundred only
        Assert.True(second.ToHashSet(ReferenceEqualityComparer.Instance).SetEquals(first.Take(50)));

        foreach (var b in second.Concat(first.Skip(50))) buffers.Return(b);
        Assert.Equal(buffers.PoolFloor, buffers.Pooled); // nothing in use: only the floor is kept
        Assert.Equal(0, buffers.BytesInUse);
    }

    [Fact]
    public void TheSmallPool_NeverHandsOneBufferToTwoRenters()
    {
        var buffers = new RelayBuffers(large: 128 * 1024, small: 16 * 1024, budget: 0, poolLimit: 64);
        var owners = new System.Collections.Concurrent.ConcurrentDictionary<byte[], int>(ReferenceEqualityComparer.Instance);
        int clashes = 0;
        Parallel.For(0, 8, worker =>
        {
            var held = new List<byte[]>();
            for (int i = 0; i < 20_000; i++)
            {
                if (held.Count < 1 + i % 16)
                {
                    var b = buffers.Rent();
                    if (!owners.TryAdd(b, worker)) Interlocked.Increment(ref clashes);
                    held.Add(b);
                }
                else
                {
                    var b = held[^1];
                    held.RemoveAt(held.Count - 1);
                    owners.TryRemove(b, out _);
                    buffers.Return(b);
                }
            }
            foreach (var b in held)
            {
                owners.TryRemove(b, out _);
                buffers.Return(b);
            }
        });

        Assert.Equal(0, clashes);
        Assert.Equal(0, buffers.BytesInUse);
        Assert.InRange(buffers.Pooled, 1, 64);
    }

    [Fact]
    public void ThePool_KeepsAtMostItsLimit_AndTrimGivesEveryPooledBufferUp()
    {
        var buffers = new RelayBuffers(large: 128 * 1024, small: 16 * 1024, budget: 0, poolLimit: 10);
        var rented = Enumerable.Range(0, 30).Select(_ => buffers.Rent()).ToList();
        foreach (var b in rented) buffers.Return(b);
        Assert.Equal(10, buffers.Pooled);

        var held = buffers.Rent(); // in use across the trim: comes back to the pool afterwards
        Assert.Equal(9, buffers.Trim());
        Assert.Equal(0, buffers.Pooled);
        buffers.Return(held);

        Assert.Equal(1, buffers.Pooled);
        Assert.Equal(0, buffers.BytesInUse);
    }

    [Fact]
    public void LargeBuffers_DoNotEnterTheSmallPool()
    {
        var buffers = new RelayBuffers(large: 64 * 1024, small: 16 * 1024, budget: 64 * 1024);
        var large = buffers.Rent();
        var small = buffers.Rent();
        buffers.Return(large);
        buffers.Return(small);

        Assert.Equal(1, buffers.Pooled);
        var largeAgain = buffers.Rent(); // the budget has room again
        Assert.Equal(64 * 1024, largeAgain.Length);
        Assert.Same(small, buffers.Rent()); // beyond it: the pooled small one
        Assert.Equal(1, buffers.SmallAllocated);
    }

    [Fact]
    public void ALargeBufferForAFramedDestination_CountsTwice_SoTheBudgetCoversItsSealingBuffer()
    {
        var buffers = new RelayBuffers(large: 64 * 1024, small: 16 * 1024, budget: 4 * 64 * 1024);
        var framed = new[] { buffers.Rent(framed: true), buffers.Rent(framed: true), buffers.Rent(framed: true) };

        Assert.Equal([65536, 65536, 16384], framed.Select(b => b.Length)); // two large ones fill the budget of four
        Assert.Equal(4 * 65536 + 16384, buffers.BytesInUse);
        foreach (var b in framed) buffers.Return(b, framed: true);
        Assert.Equal(0, buffers.BytesInUse);
    }
}
