using System.Net;

namespace Sluice.Core.Configuration;

/// <summary>
/// A "direct" inbound: a plain UDP and/or TCP listener whose queries a hijack-dns route rule hands to
/// the built-in DNS server (docs/config.md#inbounds-direct). Sluice uses it only as a DNS listener:
/// traffic no rule hijacks is dropped, and <c>override_address</c> forwarding is refused in config.
/// </summary>
/// <param name="Listen">Default 127.0.0.1. Risk: a non-loopback address answers the network's queries too.</param>
/// <param name="Udp">network omitted or "udp".</param>
/// <param name="Tcp">network omitted or "tcp".</param>
public sealed record DirectInboundOptions(string Tag, IPAddress Listen, ushort ListenPort, bool Udp, bool Tcp);

/// <summary>Parses {"type": "direct", …}; called by InboundSection.</summary>
internal static class DirectInboundParser
{
    public const string DefaultTag = "direct-in";

    /// <summary>sing-box listen fields Sluice does not implement for this inbound.</summary>
    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "tcp_fast_open", "tcp_multi_path", "udp_fragment", "udp_timeout", "detour", "sniff", "sniff_override_destination",
        "sniff_timeout", "domain_strategy", "udp_disable_domain_unmapping", "bind_interface", "routing_mark", "reuse_addr",
        "netns", "tcp_keep_alive", "tcp_keep_alive_interval", "proxy_protocol", "proxy_protocol_accept_no_header",
    };

    public static void Parse(ObjectReader r, ConfigBuilder config)
    {
        var errors = config.Errors;
        int before = errors.Count;
        string tag = r.String("tag") ?? DefaultTag;
        string listen = r.String("listen") ?? "127.0.0.1";
        if (!IPAddress.TryParse(listen, out var address))
            errors.Add(r.PathOf("listen"), $"{JsonPath.Quote(listen)} is not an IP address (e.g. \"127.0.0.1\")");
        long? port = r.Integer("listen_port", 1, 65535);
        if (port is null && !r.Has("listen_port")) errors.Add(r.PathOf("listen_port"), "required (1..65535), e.g. 5353");
        string? network = r.String("network");
        if (network is not (null or "udp" or "tcp"))
            errors.Add(r.PathOf("network"), $"unknown network {JsonPath.Quote(network)} (expected \"udp\" or \"tcp\"; omit it for both)");
        foreach (string field in (string[])["override_address", "override_port"])
        {
            if (r.Take(field) is not null)
                errors.Add(r.PathOf(field), "not supported by Sluice: a direct inbound only serves the built-in DNS server (route it with "
                    + $"{{\"inbound\": {JsonPath.Quote(tag)}, \"action\": \"hijack-dns\"}}); to forward a port, use a proxy or a route rule on the tun inbound");
        }
        r.Finish(f => Unsupported.Contains(f) ? "not supported by Sluice" : null);
        if (errors.Count == before && address is not null && port is not null)
            config.DirectInbounds.Add((new DirectInboundOptions(tag, address, (ushort)port, network is null or "udp", network is null or "tcp"), r.Path));
    }

    /// <summary>
    /// A direct inbound serves only what a hijack-dns rule takes, so some hijack-dns rule must be able to
    /// match it: one without <c>inbound</c>, one naming it, or a logical rule (not analysed).
    /// </summary>
    public static void CheckHijacked(ConfigBuilder config)
    {
        foreach (var (inbound, path) in config.DirectInbounds)
        {
            bool served = config.Route.Rules.Any(rule => rule.Action is HijackDnsAction
                && (rule is LogicalRuleOptions || rule is DefaultRuleOptions { Inbound: var tags } && (tags.Count == 0 || tags.Contains(inbound.Tag))));
            if (!served)
                config.Errors.Add(path, $"no route rule hands this inbound's queries to the DNS server; add {{\"inbound\": {JsonPath.Quote(inbound.Tag)}, \"action\": \"hijack-dns\"}} to route.rules");
        }
    }
}
