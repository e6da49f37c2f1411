using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Shadowsocks.Plugins;
using Sluice.Core.Outbounds.Socks;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// A Shadowsocks client: the AEAD methods (aes-128-gcm, aes-256-gcm, chacha20-ietf-poly1305,
/// xchacha20-ietf-poly1305) and the 2022 methods (SIP022). TCP is an encrypted stream, through the
/// SIP003 plugin when one is set (obfs-local, v2ray-plugin: built in, no external process); UDP is
/// encrypted datagrams to the same server port, never through the plugin (those plugins carry TCP
/// only, as with shadowsocks-libev's ss-local). Both go through the detour when one is set.
/// </summary>
internal sealed class ShadowsocksOutbound : IOutbound, IProxyServerOutbound
{
    private readonly ShadowsocksOutboundOptions _options;
    private readonly ShadowsocksMethod _method;
    private readonly byte[] _masterKey;
    private readonly Shadowsocks2022Keys? _keys2022;
    private readonly IShadowsocksPlugin? _plugin;
    private readonly ProxyServer _server;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;

    public ShadowsocksOutbound(ShadowsocksOutboundOptions options, OutboundContext context, ILogger logger, TimeProvider? clock = null)
    {
        _options = options;
        _clock = clock ?? TimeProvider.System;
        _method = ShadowsocksMethod.Find(options.Method)
            ?? throw new ArgumentException($"shadowsocks method {options.Method} is not supported", nameof(options));
        if (_method.Is2022)
        {
            _keys2022 = Shadowsocks2022Keys.Parse(_method, options.Password, out string? error)
                ?? throw new ArgumentException($"shadowsocks password: {error}", nameof(options));
            _masterKey = _keys2022.User;
        }
        else
        {
            _masterKey = _method.MasterKey(options.Password);
        }
        _server = new ProxyServer("shadowsocks", options.Tag, options.Server, context);
        _plugin = ShadowsocksPlugins.Create(options.Plugin, options.Server);
        _logger = logger;
    }

    public string Tag => _options.Tag;

    public string Type => "shadowsocks";

    public ProxyServer Server => _server;

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Tcp)) throw new OutboundException($"{_server.Who}: TCP is disabled by \"network\": \"udp\"");
        var connection = await _server.ConnectTcpAsync(cancellationToken);
        var transport = connection.Stream;
        if (_plugin is not null)
        {
            try
            {
                transport = await _plugin.WrapAsync(transport, _server.Who, _options.Server.Dial.ConnectTimeout, cancellationToken);
            }
            catch
            {
                await connection.Stream.DisposeAsync();
                throw;
            }
        }
        var stream = new ShadowsocksStream(transport, _method, _masterKey, _logger, _server.Who, destination, _options.AnswerTimeout, _keys2022, _clock);
        Span<byte> header = stackalloc byte[SocksAddress.MaxLength];
        int n = SocksAddress.Write(header, destination);
        stream.StageHeader(header[..n]);
        return stream;
    }

    public bool CarriesUdp => _options.Network.HasFlag(ProxyNetwork.Udp);

    public async ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (!_options.Network.HasFlag(ProxyNetwork.Udp)) throw new OutboundException($"{_server.Who}: UDP is disabled by \"network\": \"tcp\"");
        var transport = await _server.OpenUdpAsync(relay: null, cancellationToken);
        return _keys2022 is not null
            ? new Shadowsocks2022UdpChannel(transport, _method, _keys2022, destination, _clock, _logger, _server.Who)
            : new ShadowsocksUdpChannel(transport, _method, _masterKey, destination, _logger, _server.Who);
    }

    public void Dispose()
    {
    }
}
