using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>The subscription-userinfo header as providers write it.</summary>
public sealed class SubscriptionUsageTests
{
    [Fact]
    public void Header_GivesBytesAllowanceAndEnd()
    {
        Assert.Equal(new SubscriptionUsage(1234, 5678, 107374182400, 1767225600),
            SubscriptionUsage.Parse("upload=1234; download=5678; total=107374182400; expire=1767225600"));
    }

    [Fact]
    public void MissingFields_AreZero_FloatsAndOddSpacingAreRead()
    {
        Assert.Equal(new SubscriptionUsage(0, 15000000000, 0, 0), SubscriptionUsage.Parse(" Download = 1.5e10 ;"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("upload=lots")]
    [InlineData("upload=-5")]
    [InlineData("garbage")]
    [InlineData("plan=gold")]
    public void Header_WithoutUsableFields_IsNoUsage(string? header) => Assert.Null(SubscriptionUsage.Parse(header));
}
