using Sluice.Core.Outbounds.Vmess;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// What a VMess server sends back: the sealed answer header, then the body's chunks, for a session whose keys
/// are fixed (body key 00…0f, IV 10…1f, V 0x2a — the keys of the seed, so mutations reach past the tags).
/// The first byte picks the security (aes-128-gcm, chacha20-poly1305, none), global padding (0x04), authenticated
/// length (0x08), packet mode (0x10) and the read size (the top bits). Only IOException may come out.
/// </summary>
public static class VmessFuzzTarget
{
    private static readonly byte[] Random33 = [.. Enumerable.Range(0, 32).Select(i => (byte)i), 0x2A];

    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        byte mode = data[0];
        var security = (mode % 4) switch { 1 => VmessSecurity.ChaCha20Poly1305, 2 => VmessSecurity.None, _ => VmessSecurity.Aes128Gcm };
        var session = new VmessSession(security, (mode & 0x04) != 0, (mode & 0x08) != 0, Random33);
        var rest = data[1..];
        try
        {
            var header = new VmessResponseHeader(session);
            int used = header.Consume(rest);
            if (used < 0 || used > rest.Length) throw new InvalidOperationException($"consumed {used} of {rest.Length}");
            if (!header.Done) return;
            using var stream = new VmessStream(new MemoryStream(rest[used..].ToArray()), session, (mode & 0x10) != 0, "vmess \"fuzz\"");
            byte[] buffer = new byte[1 + (mode >> 5) * 300];
            long total = 0;
            int n;
            while ((n = stream.ReadAsync(buffer).AsTask().GetAwaiter().GetResult()) > 0)
            {
                if (n > buffer.Length) throw new InvalidOperationException($"read {n} into {buffer.Length}");
                total += n;
                if (total > 2L * rest.Length + 1024) throw new InvalidOperationException("more plaintext than input");
            }
        }
        catch (IOException)
        {
            // Refused with a reason, as documented.
        }
    }
}
