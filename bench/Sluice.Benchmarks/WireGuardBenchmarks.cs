using System.Buffers.Binary;
using System.Net;
using BenchmarkDotNet.Attributes;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Benchmarks;

/// <summary>
/// The WireGuard lane's own per-packet work around the cipher: one 1,420-byte IPv4 packet sealed by one device and
/// opened by its peer (cryptokey routing both ways, counters, timers), and the allowed-IPs lookup alone, IPv4 and
/// IPv6. The runtime's ChaCha20-Poly1305 is the cipher here (Linux hands the engine libcrypto's); what a change to the
/// lane's code saves shows beside it. Neither may allocate.
/// </summary>
[MemoryDiagnoser]
public class WireGuardBenchmarks
{
    private const int PacketLength = 1420, Headroom = 16;
    private static readonly IPEndPoint AEndpoint = new(IPAddress.Parse("198.51.100.1"), 51820);
    private static readonly IPEndPoint BEndpoint = new(IPAddress.Parse("203.0.113.1"), 51821);

    private WireGuardDevice _a = null!, _b = null!;
    private readonly byte[] _packet = new byte[PacketLength];
    private readonly byte[] _buffer = new byte[Headroom + PacketLength + 64];
    private PrefixTrie _routes = null!;
    private UInt128 _v4, _v6;

    [GlobalSetup]
    public void Setup()
    {
        var (aPrivate, aPublic) = WireGuardKeys.Generate();
        var (bPrivate, bPublic) = WireGuardKeys.Generate();
        _a = new WireGuardDevice(aPrivate, [new WireGuardPeerConfig(bPublic, null, BEndpoint, [IpPrefix.Parse("10.66.0.0/24")], null, "B")], TimeProvider.System);
        _b = new WireGuardDevice(bPrivate, [new WireGuardPeerConfig(aPublic, null, AEndpoint, [IpPrefix.Parse("10.66.1.0/24")], null, "A")], TimeProvider.System);
        _packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(_packet.AsSpan(2), PacketLength);
        _packet[8] = 64;
        _packet[9] = 17;
        IPAddress.Parse("10.66.1.2").TryWriteBytes(_packet.AsSpan(12), out _);
        IPAddress.Parse("10.66.0.1").TryWriteBytes(_packet.AsSpan(16), out _);
        Handshake();

        _routes = new PrefixTrie();
        _routes.Set(IpPrefix.Parse("10.66.0.0/24"), 0);
        _routes.Set(IpPrefix.Parse("10.0.0.0/8"), 1);
        _routes.Set(IpPrefix.Parse("fd00:66::/64"), 2);
        _v4 = NetAddress.Parse("10.66.0.1").Value;
        _v6 = NetAddress.Parse("fd00:66::1").Value;
    }

    /// <summary>A's first packet starts the handshake; the messages go across by hand until B holds a confirmed session.</summary>
    private void Handshake()
    {
        var buffer = new byte[2048];
        _packet.CopyTo(buffer, Headroom);
        var init = _a.Encapsulate(buffer, Headroom, PacketLength);
        var response = _b.Decapsulate(buffer, init.Offset, init.Length, AEndpoint);
        var keepalive = _a.Decapsulate(buffer, response.Offset, response.Length, BEndpoint);
        _b.Decapsulate(buffer, keepalive.Offset, keepalive.Length, AEndpoint);
        while (_a.DrainQueued(buffer) is { Kind: WgResultKind.SendDatagram } queued)
            _b.Decapsulate(buffer, queued.Offset, queued.Length, AEndpoint);
        if (RoundTrip() != WgResultKind.WriteTun) throw new InvalidOperationException("the benchmark's devices did not agree on a session");
    }

    [Benchmark(Description = "seal on A + open on B, 1,420 bytes")]
    public WgResultKind RoundTrip()
    {
        _packet.CopyTo(_buffer, Headroom);
        var sent = _a.Encapsulate(_buffer, Headroom, PacketLength);
        return _b.Decapsulate(_buffer, sent.Offset, sent.Length, AEndpoint).Kind;
    }

    [Benchmark(Description = "allowed IPs, IPv4 /24 in 2 prefixes")]
    public int LongestV4() => _routes.Longest(true, _v4);

    [Benchmark(Description = "allowed IPs, IPv6 /64")]
    public int LongestV6() => _routes.Longest(false, _v6);
}
