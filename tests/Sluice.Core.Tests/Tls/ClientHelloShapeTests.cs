using System.Buffers.Binary;
using Sluice.Core.Outbounds.Tls;
using Xunit;

namespace Sluice.Core.Tests.Tls;

/// <summary>The per-connection random parts of the Chrome-shaped hello: extension order, GREASE, random, key share.</summary>
public sealed class ClientHelloShapeTests
{
    [Fact]
    public void Hellos_ShuffleTheSameExtensions_AndDrawFreshRandomAndKeys()
    {
        var orders = new HashSet<string>();
        var randoms = new HashSet<string>();
        var keys = new HashSet<string>();
        string? set = null;
        for (int i = 0; i < 40; i++)
        {
            using var hello = ClientHello.Build("bench.test", []);
            var types = ExtensionTypes(hello.Message);
            // GREASE first and last (0x?A?A, distinct), the rest shuffled between them.
            Assert.True(IsGrease(types[0]) && IsGrease(types[^1]) && types[0] != types[^1], string.Join(",", types.Select(t => t.ToString("x4"))));
            var middle = types.Skip(1).Take(types.Count - 2).ToList();
            Assert.DoesNotContain(middle, IsGrease);
            string sorted = string.Join(",", middle.Order());
            Assert.Equal(set ??= sorted, sorted);
            orders.Add(string.Join(",", middle));
            randoms.Add(Convert.ToHexString(hello.Random));
            keys.Add(Convert.ToHexString(hello.KeySharePublic));
            Assert.Equal(0, hello.KeySharePrivate[0] & 7); // X25519 clamping (RFC 7748 §5)
            Assert.Equal(0x40, hello.KeySharePrivate[31] & 0xc0);
        }
        Assert.True(orders.Count > 30, $"{orders.Count} extension orders in 40 hellos");
        Assert.Equal(40, randoms.Count);
        Assert.Equal(40, keys.Count);
    }

    private static bool IsGrease(int type) => (type & 0x0f0f) == 0x0a0a && (type >> 12) == ((type >> 4) & 0x0f);

    private static List<int> ExtensionTypes(byte[] message)
    {
        int at = 4 + 2 + 32;
        at += 1 + message[at]; // session id
        at += 2 + BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(at)); // cipher suites
        at += 1 + message[at]; // compression
        int end = at + 2 + BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(at));
        at += 2;
        var types = new List<int>();
        while (at < end)
        {
            types.Add(BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(at)));
            at += 4 + BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(at + 2));
        }
        // The padding (0x0015) is appended after the last GREASE extension when the hello needs it: not shuffled.
        if (types[^1] == 0x0015) types.RemoveAt(types.Count - 1);
        return types;
    }
}
