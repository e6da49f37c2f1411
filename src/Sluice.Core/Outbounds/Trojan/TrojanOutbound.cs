using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Socks;
using Sluice.Core.Outbounds.Transport;

namespace Sluice.Core.Outbounds.Trojan;

/// <summary>
/// A Trojan client: each TCP flow and each UDP flow is one connection to the server (TLS, optionally
/// a WebSocket inside it) that starts with the password's hash and the request. A wrong password is
/// answered by the server closing the connection (or handing it to its fallback web server), so a
/// connection closed before a single byte came back is logged as "wrong password?".
/// </summary>
internal sealed partial class TrojanOutbound : IOutbound, IProxyServerOutbound
{
    private readonly TrojanOutboundOptions _options;
    private readonly byte[] _key;
    private readonly ProxyStreamDialer _dialer;
    private readonly ILogger _logger;

    public TrojanOutbound(TrojanOutboundOptions options, OutboundContext context, ILogger logger)
    {
        _options = options;
        _key = TrojanProtocol.PasswordKey(options.Password);
        _dialer = ProxyStreamDialer.For("trojan", options.Tag, options.Server, options.Tls, options.Transport, context, logger);
        _logger = logger;
    }

    public string Tag => _options.Tag;

    public string Type => "trojan";

    public ProxyServer Server => _dialer.Server;

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Tcp)) throw new OutboundException($"{Server.Who}: TCP is disabled by \"network\": \"udp\"");
        var connection = await _dialer.ConnectAsync(cancellationToken);
        return new RequestStream(connection, TrojanProtocol.Request(_key, TrojanProtocol.Connect, destination), response: null,
            () => LogRefused(_logger, Server.Who, destination.ToString()));
    }

    public bool CarriesUdp => _options.Network.HasFlag(ProxyNetwork.Udp);

    public async ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Udp)) throw new OutboundException($"{Server.Who}: UDP is disabled by \"network\": \"tcp\"");
        var connection = await _dialer.ConnectAsync(cancellationToken);
        var stream = new RequestStream(connection, TrojanProtocol.Request(_key, TrojanProtocol.UdpAssociate, destination), response: null,
            () => LogRefused(_logger, Server.Who, destination.ToString()));
        return new StreamDatagramChannel(stream, new TrojanUdpFraming(destination), Server.Who);
    }

    public void Dispose() => _dialer.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: the server closed the connection for {Target} without answering (wrong password, or the target refused)")]
    private static partial void LogRefused(ILogger logger, string who, string target);
}
