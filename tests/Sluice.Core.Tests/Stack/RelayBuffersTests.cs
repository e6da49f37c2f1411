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
}
