using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.WireGuard;

/// <summary>Drop warnings are limited per category: junk from many spoofed senders is one category, not one per sender.</summary>
public class DropWarningTests
{
    [Fact]
    public void JunkFromDistinctSenders_IsOneCategory()
    {
        var categories = Enumerable.Range(1, 500)
            .Select(i => DropWarnings.CategoryOf($"datagram from 198.51.{i / 256}.{i % 256}:{1000 + i} is not a WireGuard message ({i} bytes, type word 0x{i:x8})"))
            .Distinct().ToArray();
        Assert.Single(categories);
    }

    [Fact]
    public void UnknownKeys_AreOneCategory_DifferentProblemsAreNot()
    {
        string a = DropWarnings.CategoryOf("handshake from 10.0.0.1:5 failed: public key AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJKKK= is not one of our peers");
        string b = DropWarnings.CategoryOf("handshake from 10.0.0.2:6 failed: public key ZZZZYYYYXXXXWWWWVVVVUUUUTTTTSSSSRRRRQQQQPPP= is not one of our peers");
        string c = DropWarnings.CategoryOf("handshake from 10.0.0.2:6 failed: zero DH result (low-order ephemeral key)");
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }
}
