using System.Buffers.Binary;

namespace Sluice.Platform.Linux.Native;

/// <summary>
/// Walks what a netlink socket received without copying: the messages of a buffer (nlmsghdr framing) and the
/// attributes (rtattr/nlattr) of a message body. Lengths come from the kernel but are checked against the
/// buffer all the same; one that does not fit ends the walk.
/// </summary>
internal static class NetlinkReader
{
    public static MessageEnumerator Messages(ReadOnlySpan<byte> buffer) => new(buffer);

    public static AttributeEnumerator Attributes(ReadOnlySpan<byte> data) => new(data);

    /// <summary>One message: its type, sequence number and what follows the header.</summary>
    public readonly ref struct Message(ushort type, uint sequence, ReadOnlySpan<byte> body)
    {
        public ushort Type { get; } = type;

        public uint Sequence { get; } = sequence;

        public ReadOnlySpan<byte> Body { get; } = body;

        /// <summary>nlmsgerr's error field: 0 for an ack, else the positive errno (EIO when the body is cut short).</summary>
        public int Error => Body.Length >= 4 ? -BinaryPrimitives.ReadInt32LittleEndian(Body) : Libc.EIO;
    }

    /// <summary>One attribute: its type (the nested/byte-order flags masked off) and value.</summary>
    public readonly ref struct Attribute(ushort type, ReadOnlySpan<byte> value)
    {
        public ushort Type { get; } = type;

        public ReadOnlySpan<byte> Value { get; } = value;
    }

    public ref struct MessageEnumerator(ReadOnlySpan<byte> buffer)
    {
        private ReadOnlySpan<byte> _rest = buffer;

        public Message Current { get; private set; }

        public readonly MessageEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_rest.Length < Netlink.NlMsgHeaderSize) return false;
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(_rest);
            if (length < Netlink.NlMsgHeaderSize || length > _rest.Length) return false;
            Current = new Message(BinaryPrimitives.ReadUInt16LittleEndian(_rest[4..]), BinaryPrimitives.ReadUInt32LittleEndian(_rest[8..]),
                _rest[Netlink.NlMsgHeaderSize..length]);
            _rest = _rest[Math.Min(Netlink.Align(length), _rest.Length)..];
            return true;
        }
    }

    public ref struct AttributeEnumerator(ReadOnlySpan<byte> data)
    {
        private const ushort TypeMask = 0x3fff; // NLA_F_NESTED and NLA_F_NET_BYTEORDER off
        private ReadOnlySpan<byte> _rest = data;

        public Attribute Current { get; private set; }

        public readonly AttributeEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_rest.Length < 4) return false;
            int length = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
            if (length < 4 || length > _rest.Length) return false;
            Current = new Attribute((ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]) & TypeMask), _rest[4..length]);
            _rest = _rest[Math.Min(Netlink.Align(length), _rest.Length)..];
            return true;
        }
    }
}
