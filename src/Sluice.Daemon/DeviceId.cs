using System.Security.Cryptography;

namespace Sluice.Daemon;

/// <summary>
/// A stable per-machine id that does not reveal the machine id: systemd's app-specific derivation
/// (sd_id128_get_machine_app_specific): HMAC-SHA256 keyed by the 16 bytes of /etc/machine-id over Sluice's
/// own 16-byte application id, the first 16 bytes kept and stamped as a v4 UUID. Another app on the same
/// machine gets an unrelated id, and the id cannot be turned back into the machine id.
/// `systemd-id128 machine-id --app-specific=048762933d8a4f74a074bdc96ccd4dc3` prints the same value.
/// </summary>
public static class DeviceId
{
    /// <summary>Sluice's application id (random, fixed forever: changing it changes every device's id).</summary>
    public static ReadOnlySpan<byte> AppId => [0x04, 0x87, 0x62, 0x93, 0x3d, 0x8a, 0x4f, 0x74, 0xa0, 0x74, 0xbd, 0xc9, 0x6c, 0xcd, 0x4d, 0xc3];

    public const string MachineIdFile = "/etc/machine-id";

    /// <summary>32 lowercase hex digits, as machine-id itself is written.</summary>
    public static string Read(string machineIdFile = MachineIdFile)
    {
        string text;
        try
        {
            text = File.ReadAllText(machineIdFile).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read {machineIdFile} ({e.Message}); `systemd-machine-id-setup` creates it");
        }
        Span<byte> machine = stackalloc byte[16];
        if (text.Length != 32 || Convert.FromHexString(text, machine, out _, out int written) != System.Buffers.OperationStatus.Done || written != 16)
            throw new InvalidOperationException($"{machineIdFile} does not hold a machine id (32 hex digits); `systemd-machine-id-setup` rewrites it");
        return Derive(machine, AppId);
    }

    public static string Derive(ReadOnlySpan<byte> machineId, ReadOnlySpan<byte> appId)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(machineId, appId, mac);
        var id = mac[..16];
        id[6] = (byte)((id[6] & 0x0F) | 0x40); // version 4
        id[8] = (byte)((id[8] & 0x3F) | 0x80); // RFC 4122 variant
        return Convert.ToHexStringLower(id);
    }
}
