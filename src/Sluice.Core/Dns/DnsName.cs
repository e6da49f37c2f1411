using System.Text;

namespace Sluice.Core.Dns;

/// <summary>
/// Domain names on the wire (RFC 1035 3.1, 4.1.4). Reading decompresses into a caller's buffer with
/// loop protection: a compression pointer must point strictly before the label that holds it (so
/// every hop goes backwards and a chain ends), at most <see cref="MaxPointers"/> hops, at most
/// <see cref="MaxWireLength"/> bytes decompressed, labels of 1..63 bytes.
/// </summary>
internal static class DnsName
{
    /// <summary>RFC 1035 2.3.4: 255 octets including the length bytes and the root.</summary>
    public const int MaxWireLength = 255;

    /// <summary>Text form: every byte may become "\DDD" (4 chars); 255 * 4 bounds it.</summary>
    public const int MaxTextLength = MaxWireLength * 4;

    public const int MaxPointers = 32;

    /// <summary>
    /// Reads the name at <paramref name="offset"/>; writes it uncompressed and ASCII-lowercased to
    /// <paramref name="wire"/> (at least <see cref="MaxWireLength"/> bytes). <paramref name="next"/> is
    /// the offset after the name in the message (after its first pointer, if any).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> message, int offset, Span<byte> wire, out int wireLength, out int next)
    {
        wireLength = 0;
        next = -1;
        int position = offset;
        int hops = 0;
        while (true)
        {
            if ((uint)position >= (uint)message.Length) return false;
            byte length = message[position];
            switch (length & 0xC0)
            {
                case 0x00:
                    if (wireLength + 1 + length > MaxWireLength) return false;
                    if (position + 1 + length > message.Length) return false;
                    wire[wireLength++] = length;
                    if (length == 0)
                    {
                        if (next < 0) next = position + 1;
                        return true;
                    }
                    for (int i = 0; i < length; i++)
                    {
                        byte b = message[position + 1 + i];
                        wire[wireLength++] = b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
                    }
                    position += 1 + length;
                    break;
                case 0xC0:
                    if (position + 1 >= message.Length) return false;
                    int target = ((length & 0x3F) << 8) | message[position + 1];
                    if (target >= position || ++hops > MaxPointers) return false; // backwards only: no loops
                    if (next < 0) next = position + 2;
                    position = target;
                    break;
                default:
                    return false; // 0x40/0x80: extended label types (RFC 6891 obsoleted them)
            }
        }
    }

    /// <summary>Skips the name at <paramref name="offset"/>; validates it as <see cref="TryRead"/> does.</summary>
    public static bool TrySkip(ReadOnlySpan<byte> message, int offset, out int next)
    {
        Span<byte> scratch = stackalloc byte[MaxWireLength];
        return TryRead(message, offset, scratch, out _, out next);
    }

    /// <summary>
    /// The presentation form without the trailing dot ("" for the root): printable ASCII as is, a dot
    /// inside a label as "\.", other bytes as "\DDD" (RFC 4343 2.1), so distinct names stay distinct.
    /// </summary>
    public static int ToText(ReadOnlySpan<byte> wire, Span<char> text)
    {
        int n = 0;
        int position = 0;
        while (position < wire.Length && wire[position] != 0)
        {
            int length = wire[position++];
            if (n > 0) text[n++] = '.';
            for (int i = 0; i < length; i++)
            {
                byte b = wire[position + i];
                if (b is (byte)'.' or (byte)'\\')
                {
                    text[n++] = '\\';
                    text[n++] = (char)b;
                }
                else if (b is > 0x20 and < 0x7F)
                {
                    text[n++] = (char)b;
                }
                else
                {
                    text[n++] = '\\';
                    text[n++] = (char)('0' + b / 100);
                    text[n++] = (char)('0' + b / 10 % 10);
                    text[n++] = (char)('0' + b % 10);
                }
            }
            position += length;
        }
        return n;
    }

    public static string ToText(ReadOnlySpan<byte> wire)
    {
        Span<char> text = stackalloc char[MaxTextLength];
        return new string(text[..ToText(wire, text)]);
    }

    /// <summary>Encodes "example.org" / "example.org." (lowercased) for config-time use; null when not a valid name.</summary>
    public static byte[]? Encode(string name)
    {
        name = name.TrimEnd('.');
        var bytes = new List<byte>(name.Length + 2);
        if (name.Length > 0)
        {
            foreach (string label in name.Split('.'))
            {
                byte[] l = Encoding.ASCII.GetBytes(label.ToLowerInvariant());
                if (l.Length is 0 or > 63 || label.Any(c => c > 0x7E || c <= 0x20)) return null;
                bytes.Add((byte)l.Length);
                bytes.AddRange(l);
            }
        }
        bytes.Add(0);
        return bytes.Count > MaxWireLength ? null : bytes.ToArray();
    }

    /// <summary>ASCII case-insensitive equality of two wire names taken from the same kind of encoding.</summary>
    public static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
        {
            int x = a[i], y = b[i];
            if (x is >= 'A' and <= 'Z') x |= 0x20;
            if (y is >= 'A' and <= 'Z') y |= 0x20;
            if (x != y) return false;
        }
        return true;
    }
}
