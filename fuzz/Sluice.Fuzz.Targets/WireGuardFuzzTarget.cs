using System.Net;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Tun;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// The fuzz target for the WireGuard receive path, shared by the SharpFuzz harness (fuzz/Sluice.Fuzz,
/// target "wireguard") and the bounded mutation test. It must never throw on any input; it throws
/// <see cref="InvalidOperationException"/> only when an invariant breaks:
/// 1. the last input byte's low bit chooses whether the responder is under load (cookie path);
/// 2. the input is handed to a responder device's Decapsulate as one datagram;
/// 3. the result must index inside the buffer; then the timers run and must settle.
/// </summary>
public static class WireGuardFuzzTarget
{
    private const int Headroom = 32;
    private static readonly IPEndPoint Source = new(IPAddress.Parse("192.0.2.7"), 51820);
    private static readonly Lazy<WireGuardDevice> Device = new(CreateResponder);

    /// <summary>The responder's peer (the initiator a seed corpus would be made with); fixed so runs repeat.</summary>
    public static byte[] InitiatorPrivateKey { get; } = FixedKey(0x11);

    public static byte[] ResponderPrivateKey { get; } = FixedKey(0x22);

    public static void Run(ReadOnlySpan<byte> data)
    {
        var device = Device.Value;
        var buffer = new byte[Headroom + data.Length + 64];
        data.CopyTo(buffer.AsSpan(Headroom));
        device.UnderLoad = !data.IsEmpty && (data[^1] & 1) == 1;

        var result = device.Decapsulate(buffer, Headroom, data.Length, Source);
        if (result.Offset < 0 || result.Length < 0 || result.Offset + result.Length > buffer.Length)
            throw new InvalidOperationException($"Decapsulate returned [{result.Offset}, +{result.Length}) outside a {buffer.Length}-byte buffer");
        if (result.Kind == WgResultKind.Dropped && string.IsNullOrEmpty(result.Reason))
            throw new InvalidOperationException("a Dropped result must say why");

        var scratch = new byte[2048];
        for (int i = 0; ; i++)
        {
            if (device.Tick(scratch).Kind == WgResultKind.None) break;
            if (i == 10_000) throw new InvalidOperationException("Tick did not settle");
        }
    }

    private static WireGuardDevice CreateResponder()
    {
        var peer = new WireGuardPeerConfig(
            WireGuardKeys.PublicKeyOf(InitiatorPrivateKey), null, null,
            [IpPrefix.Parse("10.0.0.2/32"), IpPrefix.Parse("fd00::2/128")], null, "fuzz-initiator");
        return new WireGuardDevice(ResponderPrivateKey, [peer], TimeProvider.System);
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
