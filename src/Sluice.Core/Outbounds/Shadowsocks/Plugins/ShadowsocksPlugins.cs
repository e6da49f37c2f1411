using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>A SIP003 plugin built in: it turns the TCP connection to the server into the stream Shadowsocks writes into.</summary>
internal interface IShadowsocksPlugin
{
    /// <summary>Wraps <paramref name="connection"/> (owned from now on); a handshake that needs a round trip completes here.</summary>
    ValueTask<Stream> WrapAsync(Stream connection, string who, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>Builds the plugin an outbound's options name.</summary>
internal static class ShadowsocksPlugins
{
    public static IShadowsocksPlugin? Create(ShadowsocksPluginOptions? options, ProxyServerOptions server) => options switch
    {
        null => null,
        ObfsPluginOptions obfs => new ObfsPlugin(obfs, server.Port),
        V2RayPluginOptions v2ray => new V2RayPlugin(v2ray),
        _ => throw new ArgumentException($"plugin {options.Name} has no implementation", nameof(options)),
    };
}

/// <summary>simple-obfs' obfs-local: each connection opens with a fake HTTP upgrade or TLS hello.</summary>
internal sealed class ObfsPlugin(ObfsPluginOptions options, ushort serverPort) : IShadowsocksPlugin
{
    // obfs-local names the port in the Host header unless it is the scheme's default.
    private readonly string _hostHeader = serverPort == 80 ? options.Host : $"{options.Host}:{serverPort}";

    public ValueTask<Stream> WrapAsync(Stream connection, string who, TimeSpan timeout, CancellationToken cancellationToken) =>
        ValueTask.FromResult<Stream>(options.Tls
            ? new ObfsTlsStream(connection, options.Host, who, TimeProvider.System)
            : new ObfsHttpStream(connection, _hostHeader, options.Uri, who));
}
