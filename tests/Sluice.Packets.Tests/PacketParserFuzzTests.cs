using System.Buffers.Binary;
using Sluice.Packets;
using Sluice.Fuzz.Targets;

namespace Sluice.Packets.Tests;

/// <summary>
/// A bounded, deterministic stand-in for the SharpFuzz run: the same target over mutations of the
/// golden packets (bit flips, byte stomps, truncations, extensions, length-field corruption,
/// sometimes with checksums repaired so the rewrite/builder invariants are reached) and random bytes.
/// </summary>
public class PacketParserFuzzTests
{
    private const int Iterations = 200_000;

    [Fact]
    public void PacketParser_SurvivesMutatedInputs()
    {
        var random = new Random(20240601);
        byte[][] seeds = Seeds();
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = i % 10 == 0 ? RandomBytes(random) : Mutate(random, seeds[random.Next(seeds.Length)]);
            try
            {
                PacketParserFuzzTarget.Run(input);
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i}: {e.GetType().Name}: {e.Message}\ninput: {Convert.ToHexString(input)}\n{e.StackTrace}");
            }
        }
    }

    [Fact]
    public void PacketParser_AcceptsEveryGoldenPacket()
    {
        foreach (byte[] seed in Seeds())
        {
            Assert.True(IpPacket.TryParse(seed.ToArray(), out _));
            PacketParserFuzzTarget.Run(seed);
        }
    }

    private static byte[][] Seeds()
    {
        var seeds = GoldenPackets.All.Select(GoldenPackets.Bytes).ToList();
        seeds.Add(TcpPackets.Build(NetAddress.Parse("10.0.0.1"), 1, NetAddress.Parse("10.0.0.2"), 2, TcpFlags.Syn, options: [1, 2, 4, 0x23, 0x45, 1, 1, 0]));
        seeds.Add(TcpPackets.Build(NetAddress.Parse("fd00::1"), 1, NetAddress.Parse("fd00::2"), 2, TcpFlags.Ack, payload: [1, 2, 3]));
        return [.. seeds];
    }

    private static byte[] RandomBytes(Random random)
    {
        byte[] bytes = new byte[random.Next(0, 120)];
        random.NextBytes(bytes);
        if (bytes.Length > 0 && random.Next(2) == 0) bytes[0] = (byte)(random.Next(2) == 0 ? 0x45 : 0x60);
        return bytes;
    }

    private static byte[] Mutate(Random random, byte[] seed)
    {
        var bytes = seed.ToList();
        int mutations = random.Next(1, 5);
        for (int m = 0; m < mutations && bytes.Count > 0; m++)
        {
            switch (random.Next(7))
            {
                case 0: // bit flip
                    bytes[random.Next(bytes.Count)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // interesting byte
                    bytes[random.Next(bytes.Count)] = (byte)(random.Next(4) switch { 0 => 0, 1 => 0xFF, 2 => 0x7F, _ => random.Next(256) });
                    break;
                case 2: // truncate
                {
                    int keep = random.Next(bytes.Count);
                    bytes.RemoveRange(keep, bytes.Count - keep);
                    break;
                }
                case 3: // extend
                    for (int n = random.Next(1, 40); n > 0; n--) bytes.Add((byte)random.Next(256));
                    break;
                case 4: // length fields: IPv4 total length, IPv6 payload length, IHL, UDP length, TCP data offset
                {
                    int offset = random.Next(6) switch { 0 => 2, 1 => 3, 2 => 4, 3 => 5, 4 => 0, _ => (bytes[0] >> 4 == 4 ? 20 : 40) + random.Next(4, 14) };
                    if (offset < bytes.Count) bytes[offset] = (byte)random.Next(256);
                    break;
                }
                case 5: // IPv6 next header / IPv4 protocol to an extension header or transport
                {
                    int offset = bytes[0] >> 4 == 4 ? 9 : 6;
                    byte[] values = [0, 43, 44, 60, 59, 6, 17, 1, 58];
                    if (offset < bytes.Count) bytes[offset] = values[random.Next(values.Length)];
                    break;
                }
                default: // fragment offset / flags
                    if (bytes.Count > 7) bytes[random.Next(6, 8)] = (byte)random.Next(256);
                    break;
            }
        }
        byte[] result = [.. bytes];
        if (random.Next(3) == 0) RepairChecksums(result);
        return result;
    }

    /// <summary>Makes checksums valid again so the target's "valid stays valid" checks get exercised.</summary>
    private static void RepairChecksums(byte[] bytes)
    {
        if (!IpPacket.TryParse(bytes, out var ip)) return;
        ip.UpdateIpv4HeaderChecksum();
        if (ip.IsFragment) return;
        Span<byte> segment = ip.Payload;
        int field = ip.Protocol switch
        {
            IpProtocol.Tcp when segment.Length >= 20 => 16,
            IpProtocol.Udp when segment.Length >= 8 => 6,
            IpProtocol.Icmp or IpProtocol.IcmpV6 when segment.Length >= 8 => 2,
            _ => -1,
        };
        if (field < 0) return;
        BinaryPrimitives.WriteUInt16BigEndian(segment[field..], 0);
        ushort checksum = ip.Protocol == IpProtocol.Icmp && ip.IsV4
            ? Checksum.Compute(segment)
            : Checksum.PseudoHeaderTransport(ip.Source, ip.Destination, ip.Protocol, segment);
        BinaryPrimitives.WriteUInt16BigEndian(segment[field..], checksum);
    }
}
