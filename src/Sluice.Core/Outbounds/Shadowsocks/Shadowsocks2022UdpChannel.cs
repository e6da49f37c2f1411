using System.Buffers.Binary;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// One Shadowsocks 2022 UDP session (SIP022 §3.2, §4.1) for one flow: a random client session id, packet
/// ids counting from 0, the session's AEAD made once (AES methods; the chacha method seals with the PSK
/// and a random nonce per packet). Answers are accepted from the current server session and the one
/// before it (a server restart starts a new one, §3.2.4), each with its own 8128-packet sliding window;
/// a packet's id enters the window only after its body authenticated and its header checked.
/// Send runs on the packet thread; a lock orders two senders. Receive is one loop per channel.
/// </summary>
internal sealed partial class Shadowsocks2022UdpChannel : IUdpChannel
{
    private const int MaxDatagram = 65535;
    private readonly IUdpChannel _transport;
    private readonly ShadowsocksMethod _method;
    private readonly Shadowsocks2022Keys _keys;
    private readonly Destination _destination;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly string _who;
    private readonly ulong _session;
    private ulong _nextPacketId;
    private readonly byte[] _send = new byte[MaxDatagram + 128];
    private readonly byte[] _receive = new byte[MaxDatagram + 128];
    private readonly AeadCipher? _sendAead;         // AES methods: the client session's subkey
    private readonly Aes? _sendHeaderCipher;        // AES methods: the first identity PSK, else the user PSK
    private readonly Aes? _receiveHeaderCipher;     // AES methods: the user PSK
    private readonly XChaCha20Poly1305? _xchacha;   // chacha method: the user PSK
    private ServerSession? _current, _previous;
    private int _warned;

    private sealed class ServerSession(ulong id, AeadCipher? aead) : IDisposable
    {
        public ulong Id { get; } = id;

        public AeadCipher? Aead { get; } = aead;

        public ReplayWindow Window { get; } = new();

        public long LastSeen { get; set; }

        public void Dispose() => Aead?.Dispose();
    }

    public Shadowsocks2022UdpChannel(IUdpChannel transport, ShadowsocksMethod method, Shadowsocks2022Keys keys, Destination destination,
        TimeProvider clock, ILogger logger, string who)
    {
        _transport = transport;
        _method = method;
        _keys = keys;
        _destination = destination;
        _clock = clock;
        _logger = logger;
        _who = who;
        Span<byte> id = stackalloc byte[8];
        RandomNumberGenerator.Fill(id);
        _session = BinaryPrimitives.ReadUInt64BigEndian(id);
        if (method.Kind == AeadKind.AesGcm)
        {
            _sendAead = method.Subkey(keys.User, id);
            _sendHeaderCipher = Aes.Create();
            _sendHeaderCipher.Key = keys.SeparateHeaderKey;
            _receiveHeaderCipher = Aes.Create();
            _receiveHeaderCipher.Key = keys.User;
        }
        else
        {
            _xchacha = new XChaCha20Poly1305(keys.User);
        }
    }

    private long Now => _clock.GetUtcNow().ToUnixTimeSeconds();

    public void Send(ReadOnlySpan<byte> payload)
    {
        lock (_send)
        {
            int n = _xchacha is null ? SealAes(payload) : SealChaCha(payload);
            // ICMP errors from the server are swallowed by the transport; UDP is lossy anyway.
            if (n > 0) _transport.Send(_send.AsSpan(0, n));
        }
    }

    private int SealAes(ReadOnlySpan<byte> payload)
    {
        int identities = _keys.Identities.Length * Shadowsocks2022Keys.IdentityHeaderSize;
        int bodyAt = Shadowsocks2022Packets.SeparateHeaderSize + identities;
        if (bodyAt + Shadowsocks2022Packets.ClientBodyHeader + Socks.SocksAddress.MaxLength + payload.Length + ShadowsocksMethod.TagSize > MaxDatagram) return 0;
        Span<byte> header = stackalloc byte[Shadowsocks2022Packets.SeparateHeaderSize];
        BinaryPrimitives.WriteUInt64BigEndian(header, _session);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], _nextPacketId++);
        _keys.WriteUdpIdentityHeaders(header, _send.AsSpan(Shadowsocks2022Packets.SeparateHeaderSize));
        var body = _send.AsSpan(bodyAt);
        int length = Shadowsocks2022Packets.WriteClientBody(body, Now, _destination, payload);
        _sendAead!.SealWith(header[4..], body[..length], body);
        _sendHeaderCipher!.EncryptEcb(header, _send.AsSpan(0, Shadowsocks2022Packets.SeparateHeaderSize), PaddingMode.None);
        return bodyAt + length + ShadowsocksMethod.TagSize;
    }

    private int SealChaCha(ReadOnlySpan<byte> payload)
    {
        const int bodyAt = XChaCha20Poly1305.NonceSize;
        if (bodyAt + 16 + Shadowsocks2022Packets.ClientBodyHeader + Socks.SocksAddress.MaxLength + payload.Length + ShadowsocksMethod.TagSize > MaxDatagram) return 0;
        var nonce = _send.AsSpan(0, bodyAt);
        RandomNumberGenerator.Fill(nonce);
        var body = _send.AsSpan(bodyAt);
        BinaryPrimitives.WriteUInt64BigEndian(body, _session);
        BinaryPrimitives.WriteUInt64BigEndian(body[8..], _nextPacketId++);
        int length = 16 + Shadowsocks2022Packets.WriteClientBody(body[16..], Now, _destination, payload);
        _xchacha!.Encrypt(nonce, body[..length], body[..length], body.Slice(length, ShadowsocksMethod.TagSize));
        return bodyAt + length + ShadowsocksMethod.TagSize;
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            int n = await _transport.ReceiveAsync(_receive, cancellationToken);
            string? problem = Open(_receive.AsSpan(0, n), out int start, out int length);
            if (problem is null)
            {
                length = Math.Min(length, buffer.Length);
                _receive.AsSpan(start, length).CopyTo(buffer.Span);
                return length;
            }
            // A packet that fails is dropped (it may be a probe or a replay); say so once per channel.
            if (Interlocked.Exchange(ref _warned, 1) == 0) LogBadDatagram(_logger, _who, _destination.ToString(), problem);
        }
    }

    /// <summary>Authenticates and checks one server packet in place; null and the payload's place, or the reason it is dropped.</summary>
    internal string? Open(Span<byte> packet, out int payloadStart, out int payloadLength)
    {
        payloadStart = payloadLength = 0;
        ulong serverSession, packetId;
        int bodyAt;
        Span<byte> body;
        if (_xchacha is null)
        {
            if (!Shadowsocks2022Packets.TryReadSeparateHeader(_receiveHeaderCipher!, packet, out serverSession, out packetId)) return "a packet too short";
            var session = SessionFor(serverSession);
            if (session is null) return "a packet from a third server session while the older two are in use (a replay?)";
            if (!session.Window.MightAccept(packetId, ulong.MaxValue)) return "a replayed or too old packet";
            bodyAt = Shadowsocks2022Packets.SeparateHeaderSize;
            body = packet[bodyAt..^ShadowsocksMethod.TagSize];
            if (!session.Aead!.OpenWith(packet[4..Shadowsocks2022Packets.SeparateHeaderSize], packet[bodyAt..], body)) return "a packet that does not decrypt (wrong key or method?)";
        }
        else
        {
            bodyAt = XChaCha20Poly1305.NonceSize + 16;
            if (packet.Length < bodyAt + ShadowsocksMethod.TagSize) return "a packet too short";
            var sealedBody = packet[XChaCha20Poly1305.NonceSize..];
            int plainLength = sealedBody.Length - ShadowsocksMethod.TagSize;
            try
            {
                _xchacha.Decrypt(packet[..XChaCha20Poly1305.NonceSize], sealedBody[..plainLength], sealedBody[plainLength..], sealedBody[..plainLength]);
            }
            catch (AuthenticationTagMismatchException)
            {
                return "a packet that does not decrypt (wrong key or method?)";
            }
            serverSession = BinaryPrimitives.ReadUInt64BigEndian(sealedBody);
            packetId = BinaryPrimitives.ReadUInt64BigEndian(sealedBody[8..]);
            body = sealedBody[16..plainLength];
        }
        string? problem = Shadowsocks2022Packets.CheckServerBody(body, _session, Now, out int start, out _);
        if (problem is not null) return problem;
        var accepted = SessionFor(serverSession);
        if (accepted is null) return "a packet from a third server session while the older two are in use (a replay?)";
        if (!accepted.Window.TryAccept(packetId, ulong.MaxValue)) return "a replayed packet";
        accepted.LastSeen = Now;
        Promote(accepted);
        payloadStart = bodyAt + start;
        payloadLength = body.Length - start;
        return null;
    }

    /// <summary>
    /// The state of a server session: the current, the previous, or a new one (§3.2.4: a client keeps
    /// one old and one current session and refuses a newer one while the old one was heard from within
    /// a minute). A new one becomes current only once one of its packets is fully valid.
    /// </summary>
    private ServerSession? SessionFor(ulong id)
    {
        if (_current?.Id == id) return _current;
        if (_previous?.Id == id) return _previous;
        if (_pending?.Id == id) return _pending;
        if (_previous is not null && Now - _previous.LastSeen < 60) return null;
        var session = new ServerSession(id, _xchacha is null ? _method.Subkey(_keys.User, BigEndian(id)) : null);
        _pending?.Dispose();
        _pending = session;
        return session;
    }

    private ServerSession? _pending; // a new server session, promoted once one of its packets is fully valid

    private void Promote(ServerSession session)
    {
        if (session != _pending) return;
        _pending = null;
        _previous?.Dispose();
        _previous = _current;
        _current = session;
    }

    private static byte[] BigEndian(ulong id)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, id);
        return bytes;
    }

    public void Dispose()
    {
        _transport.Dispose();
        _sendAead?.Dispose();
        _sendHeaderCipher?.Dispose();
        _receiveHeaderCipher?.Dispose();
        _xchacha?.Dispose();
        _current?.Dispose();
        _previous?.Dispose();
        _pending?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: a UDP answer for {Target} was dropped: {Reason}")]
    private static partial void LogBadDatagram(ILogger logger, string who, string target, string reason);
}
