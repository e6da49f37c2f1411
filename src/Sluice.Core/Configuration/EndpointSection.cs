using System.Text.Json;
using Sluice.Core.Tun;

namespace Sluice.Core.Configuration;

/// <summary>
/// A WireGuard endpoint (sing-box 1.11+ <c>endpoints: [{"type": "wireguard", ...}]</c>). It is an L3
/// lane, but its tag names it in rules and <c>route.final</c> like an outbound, so it joins the
/// outbound list.
/// </summary>
/// <param name="Address">The tunnel addresses of this end; flows routed here are SNAT'd to them.</param>
/// <param name="ListenPort">UDP port to listen on; null = an ephemeral port (fine for a client).</param>
/// <param name="Mtu">Tunnel MTU, default 1408 as sing-box; TCP MSS is clamped to fit it.</param>
/// <param name="AcceptInbound">
/// Sluice extension, default false: connections a peer opens to this end's tunnel address reach the
/// host (delivered to the TUN address). Risk: the peer can reach every service listening on the host.
/// </param>
public sealed record WireGuardEndpointOptions(
    string Tag,
    IReadOnlyList<IpPrefix> Address,
    string PrivateKey,
    int? ListenPort,
    int Mtu,
    IReadOnlyList<WireGuardPeerOptions> Peers,
    bool AcceptInbound = false) : OutboundOptions("wireguard", Tag);

/// <param name="Host">The peer's address or host name; null for a peer that only connects to us.</param>
/// <param name="PersistentKeepalive">Keepalive interval; null = off.</param>
public sealed record WireGuardPeerOptions(
    string? Host,
    int Port,
    string PublicKey,
    string? PreSharedKey,
    IReadOnlyList<IpPrefix> AllowedIps,
    TimeSpan? PersistentKeepalive)
{
    /// <summary>"reserved": the 3 bytes after the message type of every datagram to this peer (Cloudflare WARP's client id); null = zeros.</summary>
    public byte[]? Reserved { get; init; }
}

/// <summary>"endpoints": [...]. Only type wireguard.</summary>
internal static class EndpointSection
{
    public const int DefaultMtu = 1408;

    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            ObjectReader.TypeError(path, "an array", element, config.Errors);
            return;
        }
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            string itemPath = JsonPath.Index(path, i++);
            if (ObjectReader.Open(item, itemPath, config.Errors) is not { } r) continue;
            int before = config.Errors.Count;
            string? type = r.String("type");
            if (type != "wireguard")
            {
                config.Errors.Add(r.PathOf("type"), type is null ? "required: \"wireguard\"" : $"endpoint type {JsonPath.Quote(type)} is not supported (supported: wireguard)");
                continue;
            }
            string tag = r.String("tag") ?? type;
            if (tag.Length == 0) config.Errors.Add(r.PathOf("tag"), "must not be empty");
            else if (config.Outbounds.Any(o => o.Tag == tag)) config.Errors.Add(r.PathOf("tag"), $"duplicate tag {JsonPath.Quote(tag)}: endpoints and outbounds share one tag namespace");
            var endpoint = ParseWireGuard(r, tag, config.Errors);
            // The endpoint's dial fields (sing-box's shared ones) are refused the same way unless off ("", false, 0).
            r.Finish(f => f is "system" or "name" or "workers" or "udp_timeout" or "reserved" or "detour" or "domain_strategy" or "bind_interface"
                or "routing_mark" or "netns" or "reuse_addr" or "connect_timeout" or "tcp_fast_open" or "tcp_multi_path" or "udp_fragment"
                or "inet4_bind_address" or "inet6_bind_address" or "domain_resolver"
                ? "not supported by Sluice (it runs WireGuard in the engine, as an L3 lane)" : null);
            if (config.Errors.Count == before) config.Outbounds.Add(endpoint);
        }
    }

    private static WireGuardEndpointOptions ParseWireGuard(ObjectReader r, string tag, ErrorList errors)
    {
        var address = r.List("address", InboundSection.CidrItem);
        if (!r.Has("address")) errors.Add(r.PathOf("address"), "required: the tunnel address of this end, such as \"10.0.0.2/32\"");
        string privateKey = r.String("private_key") ?? "";
        if (!r.Has("private_key")) errors.Add(r.PathOf("private_key"), "required (base64, as `wg genkey` prints)");
        else CheckKey(privateKey, r.PathOf("private_key"), errors);
        int? listenPort = (int?)r.Integer("listen_port", 0, 65535);
        int mtu = (int)(r.Integer("mtu", 576, 65535) ?? DefaultMtu);
        var peers = r.List("peers", (e, p, errs) => ParsePeer(e, p, errs));
        if (peers.Count == 0) errors.Add(r.PathOf("peers"), "at least one peer is required");
        bool acceptInbound = r.Bool("accept_inbound", false);
        return new WireGuardEndpointOptions(tag, address, privateKey, listenPort is 0 ? null : listenPort, mtu, peers, acceptInbound);
    }

    private static Optional<WireGuardPeerOptions> ParsePeer(JsonElement element, string path, ErrorList errors)
    {
        if (ObjectReader.Open(element, path, errors) is not { } r) return default;
        int before = errors.Count;
        string? host = r.String("address");
        int port = (int)(r.Integer("port", 1, 65535) ?? 0);
        if (host is not null && port == 0) errors.Add(r.PathOf("port"), "required when address is set");
        string publicKey = r.String("public_key") ?? "";
        if (!r.Has("public_key")) errors.Add(r.PathOf("public_key"), "required (base64)");
        else CheckKey(publicKey, r.PathOf("public_key"), errors);
        string? psk = r.String("pre_shared_key");
        if (psk is { Length: 0 }) psk = null; // sing-box's zero value: no pre-shared key, as exporters write it
        if (psk is not null) CheckKey(psk, r.PathOf("pre_shared_key"), errors);
        var allowed = r.List("allowed_ips", InboundSection.CidrItem);
        if (!r.Has("allowed_ips")) errors.Add(r.PathOf("allowed_ips"), "required: the addresses this peer may send from, e.g. [\"0.0.0.0/0\", \"::/0\"]");
        long? keepalive = r.Integer("persistent_keepalive_interval", 0, 65535);
        var reserved = ParseReserved(r);
        r.Finish();
        if (errors.Count > before) return default;
        return new WireGuardPeerOptions(host, port, publicKey, psk, allowed, keepalive is > 0 ? TimeSpan.FromSeconds(keepalive.Value) : null) { Reserved = reserved };
    }

    /// <summary>"reserved": three numbers 0..255, or their base64 (as WARP tools print the client id); all zero = none.</summary>
    private static byte[]? ParseReserved(ObjectReader r)
    {
        if (r.Take("reserved") is not { } v) return null;
        string path = r.PathOf("reserved");
        byte[] bytes = new byte[3];
        if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 3)
        {
            int i = 0;
            foreach (var item in v.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetByte(out bytes[i]))
                {
                    r.Errors.Add(JsonPath.Index(path, i), "expected a number 0..255");
                    return null;
                }
                i++;
            }
        }
        else if (v.ValueKind != JsonValueKind.String || !Convert.TryFromBase64String(v.GetString()!, bytes, out int n) || n != 3)
        {
            r.Errors.Add(path, "expected three numbers 0..255 ([1, 2, 3]) or their base64 (4 characters)");
            return null;
        }
        return bytes.AsSpan().IndexOfAnyExcept((byte)0) < 0 ? null : bytes;
    }

    private static void CheckKey(string key, string path, ErrorList errors)
    {
        Span<byte> bytes = stackalloc byte[48];
        if (!Convert.TryFromBase64String(key, bytes, out int n) || n != 32)
            errors.Add(path, "is not a WireGuard key (base64 of 32 bytes, as `wg genkey` / `wg pubkey` print)");
    }
}
