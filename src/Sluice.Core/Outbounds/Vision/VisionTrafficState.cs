using System.Buffers.Binary;

namespace Sluice.Core.Outbounds.Vision;

/// <summary>
/// What Vision learns of the inner TLS from the first packets of both directions (Xray's XtlsFilterTls): a
/// ClientHello (16 03 .. .. 01) marks TLS; a ServerHello (16 03 03 .. .. 02) marks TLS 1.2+ and its cipher
/// suite; supported_versions = TLS 1.3 in it enables direct copy (unless the suite is TLS_AES_128_CCM_8).
/// At most <see cref="PacketsToFilter"/> buffers, shared by both directions, are looked at.
/// </summary>
internal sealed class VisionTrafficState
{
    public const int PacketsToFilter = 8;
    private static ReadOnlySpan<byte> Tls13SupportedVersions => [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];

    private readonly object _lock = new();
    private int _remainingServerHello = -1;

    public int PacketsLeftToFilter { get; private set; } = PacketsToFilter;

    public bool IsTls { get; private set; }

    public bool IsTls12OrAbove { get; private set; }

    public bool EnableDirectCopy { get; private set; }

    public ushort CipherSuite { get; private set; }

    public void Filter(ReadOnlySpan<byte> buffer)
    {
        lock (_lock)
        {
            if (PacketsLeftToFilter <= 0) return;
            PacketsLeftToFilter--;
            if (buffer.Length >= 6)
            {
                if (buffer[0] == 0x16 && buffer[1] == 0x03 && buffer[2] == 0x03 && buffer[5] == 0x02)
                {
                    _remainingServerHello = BinaryPrimitives.ReadUInt16BigEndian(buffer[3..]) + 5;
                    IsTls12OrAbove = IsTls = true;
                    if (buffer.Length >= 79 && _remainingServerHello >= 79)
                    {
                        int sessionIdLength = buffer[43];
                        if (buffer.Length >= 43 + sessionIdLength + 3)
                            CipherSuite = BinaryPrimitives.ReadUInt16BigEndian(buffer[(43 + sessionIdLength + 1)..]);
                    }
                }
                else if (buffer[0] == 0x16 && buffer[1] == 0x03 && buffer[5] == 0x01)
                {
                    IsTls = true;
                }
            }
            if (_remainingServerHello > 0)
            {
                int end = Math.Min(_remainingServerHello, buffer.Length);
                _remainingServerHello -= buffer.Length;
                if (buffer[..end].IndexOf(Tls13SupportedVersions) >= 0)
                {
                    EnableDirectCopy = CipherSuite is 0x1301 or 0x1302 or 0x1303 or 0x1304;
                    PacketsLeftToFilter = 0;
                }
                else if (_remainingServerHello <= 0)
                {
                    PacketsLeftToFilter = 0; // TLS 1.2: padding ends, no direct copy
                }
            }
        }
    }
}
