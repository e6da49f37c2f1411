namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>A SIP003 plugin Sluice runs inside the outbound ("plugin" and "plugin_opts"), as sing-box does.</summary>
public abstract record ShadowsocksPluginOptions(string Name, string Opts);

/// <summary>simple-obfs' client, "obfs-local": obfs=http|tls, obfs-host, obfs-uri (http only).</summary>
/// <param name="Host">obfs-host, default "www.bing.com": the HTTP Host header or TLS SNI the traffic claims.</param>
/// <param name="Uri">obfs-uri, default "/": the HTTP request path.</param>
public sealed record ObfsPluginOptions(string Opts, bool Tls, string Host, string Uri) : ShadowsocksPluginOptions("obfs-local", Opts);

/// <summary>"v2ray-plugin" in its websocket mode: tls, host, path, cert.</summary>
/// <param name="Host">host, default "cloudfront.com" (v2ray-plugin's): the HTTP Host header and the TLS server name.</param>
/// <param name="Path">path, default "/".</param>
/// <param name="Tls">tls: WebSocket over TLS, the server's certificate verified (against <paramref name="CertificatePath"/> when set).</param>
/// <param name="CertificatePath">cert: a PEM CA certificate to verify the server against instead of the system's roots.</param>
/// <param name="Mux">mux, default 1 (on): Mux.Cool frames inside the WebSocket, as the plugin's server expects unless it runs with mux=0.</param>
public sealed record V2RayPluginOptions(string Opts, string Host, string Path, bool Tls, string? CertificatePath, bool Mux = true)
    : ShadowsocksPluginOptions("v2ray-plugin", Opts)
{
    /// <summary>How the file it names is read (the config's origin decides: the API caller's rights, caps, regular files only).</summary>
    public Sluice.Core.Configuration.IFileSource Files { get; init; } = Sluice.Core.Configuration.BoundedFileSource.Instance;
}
