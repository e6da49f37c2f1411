using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Socks;
using Sluice.Core.Outbounds.Transport;

namespace Sluice.Core.Outbounds.Vless;

/// <summary>
/// A VLESS client (no flow): each TCP flow and each UDP flow is one connection to the server (TLS,
/// optionally a WebSocket inside it) starting with the request; the answer header is taken off the
/// first bytes back. UDP is VLESS's own UDP command or XUDP (packet_encoding). A server that does not
/// know the uuid closes the connection without answering: logged once per connection as "wrong uuid?".
/// </summary>
internal sealed partial class VlessOutbound : IOutbound, IProxyServerOutbound
{
    private readonly VlessOutboundOptions _options;
    private readonly ProxyStreamDialer _dialer;
    private readonly ILogger _logger;

    public VlessOutbound(VlessOutboundOptions options, OutboundContext context, ILogger logger)
    {
        _options = options;
        _dialer = ProxyStreamDialer.For("vless", options.Tag, options.Server, options.Tls, options.Transport, context, logger);
        _logger = logger;
    }

    public string Tag => _options.Tag;

    public string Type => "vless";

    public ProxyServer Server => _dialer.Server;

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Tcp)) throw new OutboundException($"{Server.Who}: TCP is disabled by \"network\": \"udp\"");
        if (_options.Flow == VlessOptionsParser.Vision) return await DialVisionAsync(VlessProtocol.Tcp, destination, cancellationToken);
        var connection = await _dialer.ConnectAsync(cancellationToken);
        return new RequestStream(connection, VlessProtocol.Request(_options.Uuid, VlessProtocol.Tcp, destination), new VlessResponseHeader(),
            () => LogRefused(_logger, Server.Who, destination.ToString()));
    }

    public bool CarriesUdp => _options.Network.HasFlag(ProxyNetwork.Udp);

    public async ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Udp)) throw new OutboundException($"{Server.Who}: UDP is disabled by \"network\": \"tcp\"");
        if (_options.Flow == VlessOptionsParser.Vision) return await OpenVisionUdpAsync(destination, cancellationToken);
        var connection = await _dialer.ConnectAsync(cancellationToken);
        bool xudp = _options.PacketEncoding == VlessPacketEncoding.Xudp;
        var request = VlessProtocol.Request(_options.Uuid, xudp ? VlessProtocol.Mux : VlessProtocol.Udp, destination);
        var stream = new RequestStream(connection, request, new VlessResponseHeader(), () => LogRefused(_logger, Server.Who, destination.ToString()));
        return new StreamDatagramChannel(stream, xudp ? new XudpFraming(destination) : new VlessUdpFraming(), Server.Who);
    }

    public void Dispose() => _dialer.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: the server closed the connection for {Target} without answering (wrong uuid, or the target refused)")]
    private static partial void LogRefused(ILogger logger, string who, string target);
}
