using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Sluice.Core.Outbounds.Socks;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// Shadowsocks AEAD UDP (SIP004 "UDP"): each datagram is [salt][sealed(target address + payload)]
/// with a fresh salt and nonce zero. A fresh salt means a fresh subkey per datagram, so one cipher
/// object per datagram is inherent to the protocol; the byte buffers are per channel.
/// Send runs on the packet thread; the lock only orders two senders on the same channel. The datagrams
/// travel on <c>transport</c>: a marked UDP socket to the server, or the detour's channel to it.
/// </summary>
internal sealed partial class ShadowsocksUdpChannel(
    IUdpChannel transport, ShadowsocksMethod method, byte[] masterKey, Destination destination, ILogger logger, string who) : IUdpChannel
{
    private const int MaxDatagram = 65535;
    private readonly byte[] _sendPlain = new byte[MaxDatagram];
    private readonly byte[] _sendSealed = new byte[MaxDatagram + 64];
    private readonly byte[] _receive = new byte[MaxDatagram + 64];
    private readonly byte[] _receivePlain = new byte[MaxDatagram];
    private int _warned;

    public void Send(ReadOnlySpan<byte> payload)
    {
        lock (_sendPlain)
        {
            int header = SocksAddress.Write(_sendPlain, destination);
            if (header + payload.Length + method.SaltSize + ShadowsocksMethod.TagSize > MaxDatagram) return; // cannot fit; UDP drops it
            payload.CopyTo(_sendPlain.AsSpan(header));
            int plainLength = header + payload.Length;
            var salt = _sendSealed.AsSpan(0, method.SaltSize);
            RandomNumberGenerator.Fill(salt);
            using (var cipher = method.Subkey(masterKey, salt))
                cipher.Seal(_sendPlain.AsSpan(0, plainLength), _sendSealed.AsSpan(method.SaltSize));
            // ICMP errors from the server are swallowed by the transport; UDP is lossy anyway.
            transport.Send(_sendSealed.AsSpan(0, method.SaltSize + plainLength + ShadowsocksMethod.TagSize));
        }
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            int n = await transport.ReceiveAsync(_receive, cancellationToken);
            if (n < method.SaltSize + ShadowsocksMethod.TagSize) continue;
            int sealedLength = n - method.SaltSize;
            bool ok;
            using (var cipher = method.Subkey(masterKey, _receive.AsSpan(0, method.SaltSize)))
                ok = cipher.Open(_receive.AsSpan(method.SaltSize, sealedLength), _receivePlain);
            int plainLength = sealedLength - ShadowsocksMethod.TagSize;
            int header = ok ? SocksAddress.TryRead(_receivePlain.AsSpan(0, plainLength), out _) : -1;
            if (header <= 0)
            {
                // A datagram that does not authenticate is dropped (it may be a probe); say so once per channel.
                if (Interlocked.Exchange(ref _warned, 1) == 0) LogBadDatagram(logger, who, destination.ToString());
                continue;
            }
            int length = Math.Min(plainLength - header, buffer.Length);
            _receivePlain.AsSpan(header, length).CopyTo(buffer.Span);
            return length;
        }
    }

    public void Dispose() => transport.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: a UDP answer for {Target} does not decrypt (wrong password or method?); dropped")]
    private static partial void LogBadDatagram(ILogger logger, string who, string target);
}
