using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Socks;
using Sluice.Core.Outbounds.Transport;
using Sluice.Core.Outbounds.Vless;

namespace Sluice.Core.Outbounds.Vmess;

/// <summary>
/// A VMess client with the AEAD header: each TCP flow and each UDP flow is one connection to the server
/// (TCP, optionally TLS and a WebSocket) that starts with the sealed request header, sent with the app's
/// first bytes (<see cref="RequestStream"/>); the server's sealed answer header comes off the first bytes
/// back; the body both ways is <see cref="VmessStream"/>'s chunks (security zero: the bare bytes). UDP is
/// VMess's UDP command (one chunk per datagram) or XUDP in a Mux request. A server that does not know the
/// uuid reads on and says nothing (v2ray drains the connection so probes learn nothing): a TCP connection
/// with no answer within answer_timeout of the app's last bytes is closed and logged once as "wrong uuid?",
/// as is one the server closes without answering; the app's connection is reset.
/// </summary>
internal sealed partial class VmessOutbound : IOutbound, IProxyServerOutbound
{
    private readonly VmessOutboundOptions _options;
    private readonly byte[] _cmdKey;
    private readonly ProxyStreamDialer _dialer;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;

    public VmessOutbound(VmessOutboundOptions options, OutboundContext context, ILogger logger, TimeProvider? clock = null)
    {
        _options = options;
        _cmdKey = VmessKdf.CommandKey(options.Uuid);
        _dialer = ProxyStreamDialer.For("vmess", options.Tag, options.Server, options.Tls, options.Transport, context, logger);
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
    }

    public string Tag => _options.Tag;

    public string Type => "vmess";

    public ProxyServer Server => _dialer.Server;

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Tcp)) throw new OutboundException($"{Server.Who}: TCP is disabled by \"network\": \"udp\"");
        return await OpenAsync(VmessHeader.Tcp, destination, packets: false, cancellationToken);
    }

    /// <summary>Security zero has no datagram boundaries, so its UDP needs XUDP (a stream of frames).</summary>
    public bool CarriesUdp => _options.Network.HasFlag(ProxyNetwork.Udp) && !ZeroWithoutXudp;

    private bool ZeroWithoutXudp => _options.Security == VmessSecurity.Zero && _options.PacketEncoding == VlessPacketEncoding.Plain;

    public async ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Udp)) throw new OutboundException($"{Server.Who}: UDP is disabled by \"network\": \"tcp\"");
        if (ZeroWithoutXudp) throw new OutboundException($"{Server.Who}: UDP is not carried with \"security\": \"zero\" (no datagram boundaries) unless \"packet_encoding\" is \"xudp\"");
        if (_options.PacketEncoding == VlessPacketEncoding.Xudp)
            return new StreamDatagramChannel(await OpenAsync(VmessHeader.Mux, destination, packets: false, cancellationToken), new XudpFraming(destination), Server.Who);
        return new StreamDatagramChannel(await OpenAsync(VmessHeader.Udp, destination, packets: true, cancellationToken), new VlessUdpFraming(), Server.Who);
    }

    private async ValueTask<Stream> OpenAsync(byte command, Destination destination, bool packets, CancellationToken cancellationToken)
    {
        var session = new VmessSession(_options.Security, _options.GlobalPadding, _options.AuthenticatedLength);
        byte[] header = VmessHeader.Request(_cmdKey, session, command, destination, _clock.GetUtcNow().ToUnixTimeSeconds());
        var connection = await _dialer.ConnectAsync(cancellationToken);
        bool silenced = false; // one line per connection: the deadline's, or the close's
        if (!packets && _options.AnswerTimeout > TimeSpan.Zero)
            connection = new AnswerDeadlineStream(connection, _options.AnswerTimeout, _clock, () =>
            {
                silenced = true;
                LogSilent(_logger, Server.Who, destination.ToString(), _options.AnswerTimeout.TotalSeconds);
            });
        var request = new RequestStream(connection, header, new VmessResponseHeader(session), () =>
        {
            if (!silenced) LogRefused(_logger, Server.Who, destination.ToString());
        });
        return session.Chunked ? new VmessStream(request, session, packets, Server.Who) : request;
    }

    public void Dispose() => _dialer.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: the server closed the connection for {Target} without answering (wrong uuid, a clock more than 2 minutes off, or the target refused)")]
    private static partial void LogRefused(ILogger logger, string who, string target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: no answer for {Target} within {Seconds} s of the last bytes sent; connection closed (wrong uuid? a VMess server stays silent when it finds no user; or a clock more than 2 minutes off)")]
    private static partial void LogSilent(ILogger logger, string who, string target, double seconds);
}
