using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// simple-obfs "obfs=tls", client side (its obfs_tls.c is the reference for the byte layout):
/// 1. the first write is a TLS 1.2-looking ClientHello whose session-ticket extension carries the data
///    (the ticket is the first extension: the server finds it at a fixed offset), then SNI = obfs-host;
/// 2. later writes are application-data records (17 03 03, u16 length, at most 16384 bytes each: the
///    server refuses longer ones);
/// 3. the server answers with a ServerHello (96 bytes), a ChangeCipherSpec (6), and a "finished"
///    handshake record (16 03 03 len) whose body is its first data; then application-data records.
/// Nothing is encrypted by this layer: it only shapes the bytes. Buffers are per stream.
/// </summary>
internal sealed class ObfsTlsStream : PluginStream
{
    public const int MaxRecord = 16384;
    public const int ServerHelloLength = 96;
    public const int ServerPreludeLength = ServerHelloLength + 6 + 5;
    private const int MaxTicket = 8192; // first data in the hello; the rest follows as records in the same write
    private const int HelloFixed = 138; // record + handshake headers .. extensions length, per obfs_tls.h

    private static ReadOnlySpan<byte> CipherSuites =>
    [
        0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b, 0xc0, 0x2f,
        0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a,
        0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
        0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff,
    ];

    // ec_point_formats, supported_groups, signature_algorithms, encrypt_then_mac, extended_master_secret.
    private static ReadOnlySpan<byte> OtherExtensions =>
    [
        0x00, 0x0b, 0x00, 0x04, 0x03, 0x01, 0x00, 0x02,
        0x00, 0x0a, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x19, 0x00, 0x18,
        0x00, 0x0d, 0x00, 0x20, 0x00, 0x1e, 0x06, 0x01, 0x06, 0x02, 0x06, 0x03, 0x05, 0x01, 0x05, 0x02, 0x05, 0x03,
        0x04, 0x01, 0x04, 0x02, 0x04, 0x03, 0x03, 0x01, 0x03, 0x02, 0x03, 0x03, 0x02, 0x01, 0x02, 0x02, 0x02, 0x03,
        0x00, 0x16, 0x00, 0x00,
        0x00, 0x17, 0x00, 0x00,
    ];

    private readonly byte[] _host;
    private readonly string _who;
    private readonly TimeProvider _clock;
    private readonly byte[] _out;
    private readonly byte[] _in = new byte[ServerPreludeLength];
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private bool _helloSent;
    private bool _preludeRead;
    private int _recordLeft; // bytes of the current record's body still to hand out
    private bool _disposed;

    public ObfsTlsStream(Stream inner, string host, string who, TimeProvider clock) : base(inner)
    {
        _host = Encoding.ASCII.GetBytes(host);
        _who = who;
        _clock = clock;
        _out = ArrayPool<byte>.Shared.Rent(HelloFixed + 4 + MaxTicket + 9 + _host.Length + OtherExtensions.Length + 4 * (MaxRecord + 5));
    }

    /// <summary>The ClientHello carrying <paramref name="ticket"/>; returns its length.</summary>
    internal int WriteClientHello(ReadOnlySpan<byte> ticket, Span<byte> o)
    {
        int extensions = 4 + ticket.Length + 9 + _host.Length + OtherExtensions.Length;
        int total = HelloFixed + extensions;
        o[0] = 0x16;
        BinaryPrimitives.WriteUInt16BigEndian(o[1..], 0x0301);
        BinaryPrimitives.WriteUInt16BigEndian(o[3..], (ushort)(total - 5));
        o[5] = 1; // ClientHello
        o[6] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(o[7..], (ushort)(total - 9));
        BinaryPrimitives.WriteUInt16BigEndian(o[9..], 0x0303);
        BinaryPrimitives.WriteUInt32BigEndian(o[11..], (uint)_clock.GetUtcNow().ToUnixTimeSeconds());
        RandomNumberGenerator.Fill(o.Slice(15, 28));
        o[43] = 32;
        RandomNumberGenerator.Fill(o.Slice(44, 32));
        BinaryPrimitives.WriteUInt16BigEndian(o[76..], (ushort)CipherSuites.Length);
        CipherSuites.CopyTo(o[78..]);
        o[134] = 1; // one compression method: null
        o[135] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(o[136..], (ushort)extensions);
        int at = HelloFixed;
        BinaryPrimitives.WriteUInt16BigEndian(o[at..], 0x0023); // session_ticket: the data
        BinaryPrimitives.WriteUInt16BigEndian(o[(at + 2)..], (ushort)ticket.Length);
        ticket.CopyTo(o[(at + 4)..]);
        at += 4 + ticket.Length;
        BinaryPrimitives.WriteUInt16BigEndian(o[at..], 0x0000); // server_name
        BinaryPrimitives.WriteUInt16BigEndian(o[(at + 2)..], (ushort)(_host.Length + 5));
        BinaryPrimitives.WriteUInt16BigEndian(o[(at + 4)..], (ushort)(_host.Length + 3));
        o[at + 6] = 0; // host_name
        BinaryPrimitives.WriteUInt16BigEndian(o[(at + 7)..], (ushort)_host.Length);
        _host.CopyTo(o[(at + 9)..]);
        at += 9 + _host.Length;
        OtherExtensions.CopyTo(o[at..]);
        return at + OtherExtensions.Length;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            while (!buffer.IsEmpty)
            {
                int n = 0;
                if (!_helloSent)
                {
                    int ticket = Math.Min(buffer.Length, MaxTicket);
                    n = WriteClientHello(buffer.Span[..ticket], _out);
                    buffer = buffer[ticket..];
                    _helloSent = true;
                }
                // Records until the buffer is full; then one write to the connection.
                while (!buffer.IsEmpty && _out.Length - n >= MaxRecord + 5)
                {
                    int take = Math.Min(buffer.Length, MaxRecord);
                    _out[n] = 0x17;
                    _out[n + 1] = 0x03;
                    _out[n + 2] = 0x03;
                    BinaryPrimitives.WriteUInt16BigEndian(_out.AsSpan(n + 3), (ushort)take);
                    buffer.Span[..take].CopyTo(_out.AsSpan(n + 5));
                    n += 5 + take;
                    buffer = buffer[take..];
                }
                await Inner.WriteAsync(_out.AsMemory(0, n), cancellationToken);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return 0;
        if (!_preludeRead)
        {
            if (!await ReadExactlyAsync(Inner, _in.AsMemory(0, ServerPreludeLength), cancellationToken))
                throw new IOException($"{_who}: obfs=tls: the server closed the connection inside its hello (is the server's plugin obfs-server with obfs=tls?)");
            _recordLeft = ParsePrelude(_in, out string? error);
            if (error is not null) throw new IOException($"{_who}: obfs=tls: {error}");
            _preludeRead = true;
        }
        while (_recordLeft == 0)
        {
            if (!await ReadExactlyAsync(Inner, _in.AsMemory(0, 5), cancellationToken))
            {
                return 0; // the end between records is a clean end
            }
            _recordLeft = ParseRecordHeader(_in.AsSpan(0, 5), out string? error);
            if (error is not null) throw new IOException($"{_who}: obfs=tls: {error}");
        }
        int n = await Inner.ReadAsync(buffer[..Math.Min(buffer.Length, _recordLeft)], cancellationToken);
        if (n == 0) throw new IOException($"{_who}: obfs=tls: the server closed the connection inside a record");
        _recordLeft -= n;
        return n;
    }

    /// <summary>The ServerHello, ChangeCipherSpec and handshake record header; returns the handshake body's length (the first data).</summary>
    internal static int ParsePrelude(ReadOnlySpan<byte> prelude, out string? error)
    {
        error = null;
        if (prelude.Length < ServerPreludeLength || prelude[0] != 0x16 || prelude[5] != 2)
            error = "the server's first bytes are not a TLS ServerHello (not an obfs=tls server?)";
        else if (prelude[ServerHelloLength] != 0x14 || prelude[ServerHelloLength + 5] != 1)
            error = "no ChangeCipherSpec after the ServerHello";
        else if (prelude[ServerHelloLength + 6] != 0x16)
            error = "no handshake record after the ChangeCipherSpec";
        else
            return BinaryPrimitives.ReadUInt16BigEndian(prelude[(ServerPreludeLength - 2)..]);
        return 0;
    }

    /// <summary>An application-data record header (17 03 03, length ≤ 16384); returns the length.</summary>
    internal static int ParseRecordHeader(ReadOnlySpan<byte> header, out string? error)
    {
        error = null;
        if (header[0] != 0x17 || header[1] != 0x03 || header[2] != 0x03)
        {
            error = $"a record of type {header[0]:x2} {header[1]:x2}{header[2]:x2}, not application data";
            return 0;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(header[3..]);
        if (length > MaxRecord) error = $"a record of {length} bytes (at most {MaxRecord})";
        return length;
    }

    /// <summary>
    /// Closes the connection first (a write in flight then fails at once), then takes the write lock for
    /// good before the pooled buffer goes back, so no write can still be filling it.
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing || _disposed) return;
        if (_writeLock.Wait(TimeSpan.FromSeconds(5)))
        {
            _disposed = true;
            ArrayPool<byte>.Shared.Return(_out);
            _writeLock.Release();
        }
    }
}
