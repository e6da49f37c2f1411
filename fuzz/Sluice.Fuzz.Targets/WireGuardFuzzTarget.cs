using System.Net;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Tun;
using Sluice.Tests;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// The fuzz target for the WireGuard receive path, shared by the SharpFuzz harness (fuzz/Sluice.Fuzz,
/// target "wireguard"), fuzz/run.sh and the bounded mutation test. Every input gets fresh devices on a
/// fresh fake clock, so an input means the same thing whenever and in whatever order it runs (only the
/// handshake's ephemeral keys are random, and no invariant depends on them). The first byte picks the stage:
/// 0. (and any byte not below) the rest is a datagram to a fresh responder: handshake, cookie and transport
///    parsing before any session; the last byte's low bit puts the responder under load (cookie path);
/// 1. an established session (a full handshake between two devices); the rest is an inner packet the
///    initiator encrypts. The responder decrypts it, then must either hand back exactly those bytes or
///    drop it with a reason (not an IP packet, a source outside allowed IPs): the round trip;
/// 2. an established session; a real transport message of a fixed packet XOR-ed with the rest (header,
///    receiver index, counter, ciphertext and tag mutated). Whatever the responder accepts must be the
///    original packet: corrupted data is never delivered.
/// It throws <see cref="InvalidOperationException"/> only when an invariant breaks; after each input the
/// timers run at 30 s steps and must settle.
/// </summary>
public static class WireGuardFuzzTarget
{
    private const int Headroom = 32;
    private static readonly IPEndPoint InitiatorEndpoint = new(IPAddress.Parse("192.0.2.7"), 51820);
    private static readonly IPEndPoint ResponderEndpoint = new(IPAddress.Parse("198.51.100.9"), 51820);

    /// <summary>The responder's peer (the initiator a seed corpus would be made with); fixed so runs repeat.</summary>
    public static byte[] InitiatorPrivateKey { get; } = FixedKey(0x11);

    public static byte[] ResponderPrivateKey { get; } = FixedKey(0x22);

    /// <summary>The initiator's tunnel address, inside the responder's allowed IPs for it.</summary>
    public static byte[] SessionPacket { get; } = Ipv4Udp("10.0.0.2", "10.0.0.1", "sluice-fuzz");

    public static void Run(ReadOnlySpan<byte> data)
    {
        byte stage = data.IsEmpty ? (byte)0 : data[0];
        var rest = data.IsEmpty ? data : data[1..];
        var clock = new FakeClock();
        var responder = Responder(clock);
        switch (stage)
        {
            case 1:
                RoundTrip(Handshake(responder, clock), responder, rest);
                break;
            case 2:
                MutatedTransport(Handshake(responder, clock), responder, rest);
                break;
            default:
                responder.UnderLoad = !rest.IsEmpty && (rest[^1] & 1) == 1;
                Receive(responder, rest, InitiatorEndpoint);
                break;
        }
        Settle(responder, clock);
    }

    /// <summary>
    /// Seeds for each stage, made by the real encoder so mutations start past the cheap checks: an
    /// initiation from the fixed initiator, typed messages of the right sizes, inner packets (in and out
    /// of allowed IPs, v4 and v6), and transport masks (none, one counter bit, one tag bit).
    /// </summary>
    public static IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var clock = new FakeClock();
        var initiator = new WireGuardDevice(InitiatorPrivateKey,
            [new WireGuardPeerConfig(WireGuardKeys.PublicKeyOf(ResponderPrivateKey), null, ResponderEndpoint, [IpPrefix.Parse("0.0.0.0/0")], null, "fuzz-responder")],
            clock);
        yield return ("initiation", [0, .. Encrypt(initiator, SessionPacket)]);
        yield return ("empty", []);
        foreach (var (type, length) in new[] { (1, 148), (2, 92), (3, 64), (4, 32), (4, 80) })
        {
            var message = new byte[1 + length];
            new Random(type * 1000 + length).NextBytes(message);
            message[0] = 0;
            message[1] = (byte)type;
            message[2] = message[3] = message[4] = 0;
            yield return ($"type{type}-{length}", message);
        }
        yield return ("inner-v4", [1, .. SessionPacket]);
        yield return ("inner-outside-allowed-ips", [1, .. Ipv4Udp("10.9.9.9", "10.0.0.1", "not-allowed")]);
        yield return ("transport-unmodified", [2, .. new byte[48]]);
        var counterBit = new byte[49];
        counterBit[0] = 2;
        counterBit[1 + 8] = 1;
        yield return ("transport-counter-bit", counterBit);
        var tagBit = new byte[1 + 16 + SessionPacket.Length + 16];
        tagBit[0] = 2;
        tagBit[^1] = 0x80;
        yield return ("transport-tag-bit", tagBit);
    }

    private static void RoundTrip(WireGuardDevice initiator, WireGuardDevice responder, ReadOnlySpan<byte> packet)
    {
        if (packet.IsEmpty) return; // an empty packet is a keepalive: nothing to deliver
        if (TryEncrypt(initiator, packet) is not { } message) return; // the sender refuses what is not an IP packet
        var (result, buffer) = Receive(responder, message, InitiatorEndpoint);
        if (result.Kind is not (WgResultKind.WriteTun or WgResultKind.Dropped or WgResultKind.None))
            throw new InvalidOperationException($"a transport message produced {result.Kind}");
        if (result.Kind != WgResultKind.WriteTun) return;
        // An inner header that claims more than was sent may take in the zero padding (as wireguard-go
        // does: the length is checked against the decrypted, padded plaintext), never anything else.
        var delivered = buffer.AsSpan(result.Offset, result.Length);
        int padded = (packet.Length + 15) & ~15;
        if (result.Length > padded || delivered[Math.Min(packet.Length, result.Length)..].ContainsAnyExcept((byte)0))
            throw new InvalidOperationException($"the responder delivered {result.Length} bytes of a {packet.Length}-byte packet, beyond its zero padding");
        if (!delivered[..Math.Min(packet.Length, result.Length)].SequenceEqual(packet[..Math.Min(packet.Length, result.Length)]))
            throw new InvalidOperationException("the responder delivered bytes that differ from what the initiator encrypted");
    }

    private static void MutatedTransport(WireGuardDevice initiator, WireGuardDevice responder, ReadOnlySpan<byte> mask)
    {
        var message = Encrypt(initiator, SessionPacket);
        for (int i = 0; i < Math.Min(mask.Length, message.Length); i++) message[i] ^= mask[i];
        var (result, buffer) = Receive(responder, message, InitiatorEndpoint);
        if (result.Kind == WgResultKind.WriteTun && !buffer.AsSpan(result.Offset, result.Length).SequenceEqual(SessionPacket))
            throw new InvalidOperationException("a mutated transport message was delivered with altered contents");
    }

    /// <summary>A full handshake with a fresh initiator: initiation → response → keepalive; returns the initiator.</summary>
    private static WireGuardDevice Handshake(WireGuardDevice responder, FakeClock clock)
    {
        var initiator = new WireGuardDevice(InitiatorPrivateKey,
            [new WireGuardPeerConfig(WireGuardKeys.PublicKeyOf(ResponderPrivateKey), null, ResponderEndpoint, [IpPrefix.Parse("0.0.0.0/0")], null, "fuzz-responder")],
            clock);
        var initiation = Encrypt(initiator, SessionPacket);
        var response = Expect(Receive(responder, initiation, InitiatorEndpoint), WgResultKind.SendDatagram, "initiation");
        var keepalive = Expect(Receive(initiator, response, ResponderEndpoint), WgResultKind.SendDatagram, "response");
        Expect(Receive(responder, keepalive, InitiatorEndpoint), WgResultKind.None, "keepalive");
        var queued = new byte[2048];
        while (initiator.DrainQueued(queued).Kind != WgResultKind.None)
        {
        }
        return initiator;
    }

    private static byte[] Expect((WgResult Result, byte[] Buffer) step, WgResultKind kind, string what)
    {
        if (step.Result.Kind != kind)
            throw new InvalidOperationException($"the handshake between two fresh devices failed at the {what}: {step.Result.Kind} {step.Result.Reason}");
        return step.Buffer.AsSpan(step.Result.Offset, step.Result.Length).ToArray();
    }

    private static byte[] Encrypt(WireGuardDevice device, ReadOnlySpan<byte> packet) =>
        TryEncrypt(device, packet) ?? throw new InvalidOperationException("the fixed session packet was not encapsulated");

    private static byte[]? TryEncrypt(WireGuardDevice device, ReadOnlySpan<byte> packet)
    {
        var buffer = new byte[Math.Max(16 + packet.Length + 31, 256)];
        packet.CopyTo(buffer.AsSpan(16));
        var result = device.Encapsulate(buffer, 16, packet.Length);
        if (result.Kind == WgResultKind.Dropped && !string.IsNullOrEmpty(result.Reason)) return null;
        if (result.Kind != WgResultKind.SendDatagram) throw new InvalidOperationException($"encapsulating produced {result.Kind} {result.Reason}");
        return buffer.AsSpan(result.Offset, result.Length).ToArray();
    }

    private static (WgResult Result, byte[] Buffer) Receive(WireGuardDevice device, ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        var buffer = new byte[Headroom + datagram.Length + 64];
        datagram.CopyTo(buffer.AsSpan(Headroom));
        var result = device.Decapsulate(buffer, Headroom, datagram.Length, from);
        if (result.Offset < 0 || result.Length < 0 || result.Offset + result.Length > buffer.Length)
            throw new InvalidOperationException($"Decapsulate returned [{result.Offset}, +{result.Length}) outside a {buffer.Length}-byte buffer");
        if (result.Kind == WgResultKind.Dropped && string.IsNullOrEmpty(result.Reason))
            throw new InvalidOperationException("a Dropped result must say why");
        return (result, buffer);
    }

    /// <summary>Runs the timers over four minutes of fake time (retries, keepalives, key expiry); each round must settle.</summary>
    private static void Settle(WireGuardDevice device, FakeClock clock)
    {
        var scratch = new byte[2048];
        for (int step = 0; step < 8; step++)
        {
            for (int i = 0; ; i++)
            {
                if (device.Tick(scratch).Kind == WgResultKind.None) break;
                if (i == 10_000) throw new InvalidOperationException("Tick did not settle");
            }
            clock.Advance(TimeSpan.FromSeconds(30));
        }
    }

    private static WireGuardDevice Responder(TimeProvider clock)
    {
        var peer = new WireGuardPeerConfig(
            WireGuardKeys.PublicKeyOf(InitiatorPrivateKey), null, null,
            [IpPrefix.Parse("10.0.0.2/32"), IpPrefix.Parse("fd00::2/128")], null, "fuzz-initiator");
        return new WireGuardDevice(ResponderPrivateKey, [peer], clock);
    }

    private static byte[] Ipv4Udp(string source, string destination, string payload)
    {
        var packet = new byte[28 + payload.Length];
        packet[0] = 0x45;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[8] = 64;
        packet[9] = 17;
        IPAddress.Parse(source).TryWriteBytes(packet.AsSpan(12), out _);
        IPAddress.Parse(destination).TryWriteBytes(packet.AsSpan(16), out _);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), (ushort)(packet.Length - 20));
        System.Text.Encoding.ASCII.GetBytes(payload, packet.AsSpan(28));
        return packet;
    }

    private static byte[] FixedKey(byte seed)
    {
        var key = new byte[WireGuardKeys.KeySize];
        for (int i = 0; i < key.Length; i++) key[i] = (byte)(seed + i * 7);
        key[0] &= 248;
        key[31] = (byte)((key[31] & 127) | 64);
        return key;
    }
}
