using Sluice.Core.Outbounds.Shadowsocks;

namespace Sluice.Core.Configuration;

/// <summary>Which transports a proxy outbound carries (sing-box "network": "tcp", "udp", or absent for both).</summary>
[Flags]
public enum ProxyNetwork
{
    Tcp = 1,
    Udp = 2,
    Both = Tcp | Udp,
}

/// <param name="Server">Host name or address of the proxy server.</param>
/// <param name="Dial">bind_interface, routing_mark, connect_timeout (default 5 s).</param>
public sealed record ProxyServerOptions(string Server, ushort Port, DialOptions Dial)
{
    /// <summary>"detour": the outbound tag the server is dialed through (bind_interface/routing_mark then refused); null = own sockets.</summary>
    public string? Detour { get; init; }

    /// <summary>"domain_resolver": the DNS server tag for the server's name; null = route.default_domain_resolver, else the host's.</summary>
    public string? DomainResolver { get; init; }

    /// <summary>"domain_resolver.strategy": which of the name's addresses is dialed; null = route.default_domain_resolver's, else prefer IPv4.</summary>
    public Dns.DnsStrategy? DomainStrategy { get; init; }

    /// <summary>The server options of a proxy outbound; null for other types.</summary>
    public static ProxyServerOptions? Of(OutboundOptions outbound) => outbound switch
    {
        ShadowsocksOutboundOptions s => s.Server,
        SocksOutboundOptions s => s.Server,
        HttpOutboundOptions h => h.Server,
        Outbounds.Trojan.TrojanOutboundOptions t => t.Server,
        Outbounds.Vless.VlessOutboundOptions v => v.Server,
        Outbounds.Vmess.VmessOutboundOptions v => v.Server,
        _ => null,
    };
}

/// <param name="Method">One of <see cref="ShadowsocksMethod.Supported"/>: the AEAD methods, or the 2022 ones (then "password" is a base64 PSK, or iPSK:…:uPSK).</param>
/// <param name="AnswerTimeout">
/// Sluice extension "answer_timeout", default 10 s, "0" disables: a TCP connection whose server sends
/// nothing this long after the app's first bytes is closed as "wrong password or method?" (an AEAD
/// server stays silent when it cannot decrypt). Risk: an app protocol whose server is silent longer
/// than this after the first request (a long-poll as the very first request) is cut; raise it then.
/// </param>
public sealed record ShadowsocksOutboundOptions(string Tag, ProxyServerOptions Server, string Method, string Password, ProxyNetwork Network,
    TimeSpan AnswerTimeout) : OutboundOptions("shadowsocks", Tag)
{
    public static readonly TimeSpan DefaultAnswerTimeout = TimeSpan.FromSeconds(10);

    /// <summary>"plugin" + "plugin_opts": a built-in SIP003 plugin for TCP; null = none.</summary>
    public Outbounds.Shadowsocks.Plugins.ShadowsocksPluginOptions? Plugin { get; init; }
}

/// <param name="Username">Null: offer only "no authentication".</param>
public sealed record SocksOutboundOptions(string Tag, ProxyServerOptions Server, string? Username, string? Password, ProxyNetwork Network)
    : OutboundOptions("socks", Tag);

/// <param name="Tls">The "tls" object: CONNECT over TLS to the proxy (an HTTPS proxy); null = plain TCP.</param>
public sealed record HttpOutboundOptions(string Tag, ProxyServerOptions Server, string? Username, string? Password, Outbounds.Tls.TlsClientOptions? Tls = null)
    : OutboundOptions("http", Tag);

/// <summary>Parsers of the proxy outbound types, registered in <see cref="OutboundSection"/>.</summary>
internal static class ProxyOutboundParsers
{
    public static OutboundOptions? ParseShadowsocks(ObjectReader r, string tag)
    {
        var server = ParseServer(r);
        string? method = r.String("method");
        if (method is null)
            r.Errors.Add(r.PathOf("method"), $"required (one of {string.Join(", ", ShadowsocksMethod.Supported)})");
        else if (ShadowsocksMethod.Find(method) is null)
            r.Errors.Add(r.PathOf("method"), $"{JsonPath.Quote(method)} is not a supported method (supported: {string.Join(", ", ShadowsocksMethod.Supported)})");
        string? password = r.String("password");
        if (password is null) r.Errors.Add(r.PathOf("password"), "required");
        else if (method is not null && ShadowsocksMethod.Find(method) is { Is2022: true } method2022
            && Shadowsocks2022Keys.Parse(method2022, password, out string? keyError) is null)
            r.Errors.Add(r.PathOf("password"), keyError!);
        var plugin = ShadowsocksPluginFields.Parse(r);
        Unsupported(r, "udp_over_tcp", "multiplex");
        var network = ParseNetwork(r);
        var answerTimeout = r.Duration("answer_timeout") ?? ShadowsocksOutboundOptions.DefaultAnswerTimeout;
        return server is null || method is null || password is null ? null
            : new ShadowsocksOutboundOptions(tag, server, method, password, network, answerTimeout) { Plugin = plugin };
    }

    public static OutboundOptions? ParseSocks(ObjectReader r, string tag)
    {
        var server = ParseServer(r);
        string version = r.String("version") ?? "5";
        if (version != "5")
            r.Errors.Add(r.PathOf("version"), $"SOCKS version {JsonPath.Quote(version)} is not supported (only \"5\")");
        var (user, password) = ParseCredentials(r);
        Unsupported(r, "udp_over_tcp");
        var network = ParseNetwork(r);
        return server is null ? null : new SocksOutboundOptions(tag, server, user, password, network);
    }

    public static OutboundOptions? ParseHttp(ObjectReader r, string tag)
    {
        var server = ParseServer(r);
        var (user, password) = ParseCredentials(r);
        var tls = Outbounds.Tls.TlsOptionsParser.Parse(r);
        Unsupported(r, "path", "headers");
        return server is null ? null : new HttpOutboundOptions(tag, server, user, password, tls);
    }

    /// <summary>server, server_port and the shared dial fields.</summary>
    public static ProxyServerOptions? ParseServer(ObjectReader r)
    {
        string? server = r.String("server");
        if (server is null) r.Errors.Add(r.PathOf("server"), "required: the proxy server's host name or address");
        else if (server.Length == 0 || server.Any(char.IsWhiteSpace)) r.Errors.Add(r.PathOf("server"), $"{JsonPath.Quote(server)} is not a host name or address");
        long? port = r.Integer("server_port", 1, 65535);
        if (port is null && !r.Has("server_port")) r.Errors.Add(r.PathOf("server_port"), "required (1..65535)");
        bool marksOrBinds = r.Has("bind_interface") || r.Has("routing_mark");
        var dial = ParseDial(r);
        string? detour = r.String("detour");
        if (detour is { Length: 0 }) detour = null;
        if (detour is not null && marksOrBinds)
        {
            string field = r.Has("bind_interface") ? "bind_interface" : "routing_mark";
            r.Errors.Add(r.PathOf(field), $"cannot be combined with \"detour\": the connection to the server is made by outbound {JsonPath.Quote(detour)}, so its own dial fields apply; remove {JsonPath.Quote(field)} or the detour");
        }
        var (resolver, strategy) = DnsSection.ParseDomainResolver(r);
        strategy = DnsSection.WithLegacyDomainStrategy(r, strategy);
        return server is null || port is null ? null
            : new ProxyServerOptions(server, (ushort)port, dial) { Detour = detour, DomainResolver = resolver, DomainStrategy = strategy };
    }

    public static DialOptions ParseDial(ObjectReader r)
    {
        string? bind = r.Interface("bind_interface");
        uint? mark = r.Mark("routing_mark");
        var timeout = r.Duration("connect_timeout") ?? ConfigDefaults.ConnectTimeout;
        var keepAlive = ParseKeepAlive(r);
        r.Bool("bind_address_no_port", false);
        return new DialOptions(bind, mark, timeout) { KeepAlive = keepAlive };
    }

    /// <summary>
    /// sing-box's keep-alive dial fields, applied to the TCP sockets the outbound dials: tcp_keep_alive (idle time
    /// before the first probe, default 5m) and tcp_keep_alive_interval (between probes, default 75s); "0" or absent is
    /// the default, as in sing-box; disable_tcp_keep_alive: true sends none. Whole seconds (rounded up), at most
    /// Linux's 32767 s.
    /// </summary>
    private static TcpKeepAlive? ParseKeepAlive(ObjectReader r)
    {
        var idle = KeepAliveSeconds(r, "tcp_keep_alive") ?? TcpKeepAlive.Default.Idle;
        var interval = KeepAliveSeconds(r, "tcp_keep_alive_interval") ?? TcpKeepAlive.Default.Interval;
        return r.Bool("disable_tcp_keep_alive", false) ? null : new TcpKeepAlive(idle, interval);

        static TimeSpan? KeepAliveSeconds(ObjectReader r, string field)
        {
            if (r.Duration(field) is not { } value || value <= TimeSpan.Zero) return null;
            double seconds = Math.Ceiling(value.TotalSeconds);
            if (seconds <= TcpKeepAlive.MaxSeconds) return TimeSpan.FromSeconds(seconds);
            r.Errors.Add(r.PathOf(field), $"{value.TotalSeconds:0} s is longer than the kernel allows ({TcpKeepAlive.MaxSeconds} s, about 9h6m)");
            return null;
        }
    }

    /// <summary>
    /// The socket-tuning fields of a listener (the mixed inbound): sing-box's listen fields tcp_keep_alive (default 5m),
    /// tcp_keep_alive_interval (75s) and disable_tcp_keep_alive, read as an outbound's and applied to every accepted
    /// connection; bind_address_no_port (a dial field some exporters write here) is read and means nothing for a listener.
    /// </summary>
    internal static TcpKeepAlive? ParseListenTuning(ObjectReader r)
    {
        r.Bool("bind_address_no_port", false);
        return ParseKeepAlive(r);
    }

    private static (string? User, string? Password) ParseCredentials(ObjectReader r)
    {
        string? user = r.String("username");
        string? password = r.String("password");
        if (user is { Length: > 255 }) r.Errors.Add(r.PathOf("username"), "longer than 255 bytes");
        if (password is { Length: > 255 }) r.Errors.Add(r.PathOf("password"), "longer than 255 bytes");
        if (user is null && password is not null) r.Errors.Add(r.PathOf("username"), "required when \"password\" is set");
        return (user is { Length: 0 } ? null : user, password);
    }

    public static ProxyNetwork ParseNetwork(ObjectReader r)
    {
        string? network = r.String("network");
        switch (network)
        {
            case null or "":
                return ProxyNetwork.Both;
            case "tcp":
                return ProxyNetwork.Tcp;
            case "udp":
                return ProxyNetwork.Udp;
            default:
                r.Errors.Add(r.PathOf("network"), $"{JsonPath.Quote(network)}: expected \"tcp\" or \"udp\" (absent: both)");
                return ProxyNetwork.Both;
        }
    }

    private static void Unsupported(ObjectReader r, params string[] fields)
    {
        foreach (var field in fields)
            r.RefuseUnlessInert(field, "not supported by Sluice yet");
    }
}
