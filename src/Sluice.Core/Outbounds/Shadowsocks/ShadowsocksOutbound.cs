using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Socks;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// A Shadowsocks AEAD client (aes-128-gcm, aes-256-gcm, chacha20-ietf-poly1305): TCP as an
/// encrypted stream, UDP as encrypted datagrams to the same server port (both through the detour when
/// one is set: the server then sees the detour's address).
/// </summary>
internal sealed class ShadowsocksOutbound : IOutbound, IProxyServerOutbound
{
    private readonly ShadowsocksOutboundOptions _options;
    private readonly ShadowsocksMethod _method;
    private readonly byte[] _masterKey;
    private readonly ProxyServer _server;
    private readonly ILogger _logger;

    public ShadowsocksOutbound(ShadowsocksOutboundOptions options, OutboundContext context, ILogger logger)
    {
        _options = options;
        _method = ShadowsocksMethod.Find(options.Method)
            ?? throw new ArgumentException($"shadowsocks method {options.Method} is not supported", nameof(options));
        _masterKey = _method.MasterKey(options.Password);
        _server = new ProxyServer("shadowsocks", options.Tag, options.Server, context);
        _logger = logger;
    }

    public string Tag => _options.Tag;

    public string Type => "shadowsocks";

    public ProxyServer Server => _server;

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Tcp)) throw new OutboundException($"{_server.Who}: TCP is disabled by \"network\": \"udp\"");
        var connection = await _server.ConnectTcpAsync(cancellationToken);
        var stream = new ShadowsocksStream(connection.Stream, _method, _masterKey, _logger, _server.Who, destination, _options.AnswerTimeout);
        Span<byte> header = stackalloc byte[SocksAddress.MaxLength];
        int n = SocksAddress.Write(header, destination);
        stream.StageHeader(header[..n]);
        return stream;
    }

    public async ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Udp)) throw new OutboundException($"{_server.Who}: UDP is disabled by \"network\": \"tcp\"");
        var transport = await _server.OpenUdpAsync(relay: null, cancellationToken);
        return new ShadowsocksUdpChannel(transport, _method, _masterKey, destination, _logger, _server.Who);
    }

    public void Dispose()
    {
    }
}
