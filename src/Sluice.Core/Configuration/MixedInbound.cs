using System.Net;

namespace Sluice.Core.Configuration;

/// <summary>
/// A "mixed" inbound: SOCKS (5, 4, 4a) and HTTP proxy on one port (docs/config.md#inbounds-mixed); sing-box's "socks" and
/// "http" inbounds are the same listener speaking one of the two.
/// </summary>
/// <param name="Listen">Default 127.0.0.1. Risk: a non-loopback address opens the proxy to the network.</param>
/// <param name="Users">Empty: no authentication (fine on loopback).</param>
public sealed record MixedInboundOptions(string Tag, IPAddress Listen, ushort ListenPort, IReadOnlyList<ProxyUser> Users)
{
    /// <summary>The protocols the port speaks: both for "mixed", one for "socks" or "http".</summary>
    public ProxyProtocols Protocols { get; init; } = ProxyProtocols.Socks | ProxyProtocols.Http;

    /// <summary>
    /// Keep-alive probes on every accepted connection (sing-box's listen fields tcp_keep_alive, tcp_keep_alive_interval;
    /// null: disable_tcp_keep_alive); default 5 min idle, then every 75 s. Without probes a client that vanished (a laptop
    /// suspended, a NAT that forgot the flow) holds its relay, its outbound connection and its buffers until the far
    /// end closes; shorter probes find it sooner at a few bytes per idle connection.
    /// </summary>
    public TcpKeepAlive? KeepAlive { get; init; } = TcpKeepAlive.Default;
}

/// <summary>What a proxy inbound's port speaks.</summary>
[Flags]
public enum ProxyProtocols
{
    /// <summary>SOCKS5, SOCKS4 and SOCKS4a.</summary>
    Socks = 1,
    Http = 2,
}

public sealed record ProxyUser(string Username, string Password);

/// <summary>Parses {"type": "mixed" | "socks" | "http", …}; called by InboundSection.</summary>
internal static class MixedInboundParser
{
    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "set_system_proxy", "tcp_fast_open", "tcp_multi_path", "udp_fragment", "udp_timeout", "detour",
        "udp_disable_domain_unmapping",
        "reuse_addr", "netns", "bind_interface", "routing_mark",
    };

    public static void Parse(ObjectReader r, ConfigBuilder config, string type = "mixed")
    {
        var errors = config.Errors;
        int before = errors.Count;
        string tag = r.String("tag") ?? $"{type}-in";
        var protocols = type switch
        {
            "socks" => ProxyProtocols.Socks,
            "http" => ProxyProtocols.Http,
            _ => ProxyProtocols.Socks | ProxyProtocols.Http,
        };
        // sing-box's http inbound may serve TLS itself; Sluice's proxy ports are plain (loopback by default).
        if (type == "http") r.RefuseUnlessInert("tls", "not supported by Sluice: its HTTP proxy port is plain; keep it on loopback");
        string listen = r.String("listen") ?? "127.0.0.1";
        if (!IPAddress.TryParse(listen, out var address))
            errors.Add(r.PathOf("listen"), $"{JsonPath.Quote(listen)} is not an IP address (e.g. \"127.0.0.1\")");
        long? port = r.Integer("listen_port", 1, 65535);
        if (port is null && !r.Has("listen_port")) errors.Add(r.PathOf("listen_port"), "required (1..65535)");
        var users = new List<ProxyUser>();
        if (r.Take("users") is { } list)
        {
            if (list.ValueKind != System.Text.Json.JsonValueKind.Array)
                ObjectReader.TypeError(r.PathOf("users"), "an array", list, errors);
            else
            {
                int i = 0;
                foreach (var item in list.EnumerateArray())
                {
                    if (ObjectReader.Open(item, JsonPath.Index(r.PathOf("users"), i++), errors) is not { } u) continue;
                    string? name = u.String("username");
                    string? password = u.String("password");
                    if (name is null) errors.Add(u.PathOf("username"), "required");
                    if (password is null) errors.Add(u.PathOf("password"), "required");
                    u.Finish();
                    if (name is not null && password is not null) users.Add(new ProxyUser(name, password));
                }
            }
        }
        // Switched off they ask for nothing (as exporters write them); on, they name the rule action that replaced them.
        foreach (string field in Migration.InboundRuleFields) r.RefuseUnlessInert(field, Migration.InboundRuleFieldReplacement(field));
        var keepAlive = ProxyOutboundParsers.ParseListenTuning(r);
        r.Finish(f => Unsupported.Contains(f) ? "not supported by Sluice" : null);
        if (errors.Count == before && address is not null && port is not null)
            config.MixedInbounds.Add(new MixedInboundOptions(tag, address, (ushort)port, users) { Protocols = protocols, KeepAlive = keepAlive });
    }
}
