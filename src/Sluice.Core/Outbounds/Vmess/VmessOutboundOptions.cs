using System.Runtime.InteropServices;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.Transport;
using Sluice.Core.Outbounds.Vless;

namespace Sluice.Core.Outbounds.Vmess;

/// <summary>sing-box's "vmess" outbound (the AEAD header: alter_id 0).</summary>
/// <param name="Uuid">The user id (16 bytes); never logged.</param>
/// <param name="Security">The body security; "auto" is resolved when parsed (AES-128-GCM on x86-64 and ARM64, else ChaCha20-Poly1305, as v2ray and sing-box choose).</param>
/// <param name="GlobalPadding">"global_padding", default false: 0–63 random bytes after each chunk (v2ray's client always pads). Costs up to 3 % more traffic.</param>
/// <param name="AuthenticatedLength">"authenticated_length", default false: chunk sizes sealed instead of masked. Needs a server that knows it (v2ray ≥ 4.41, Xray, sing-box); older ones fail every chunk.</param>
/// <param name="AnswerTimeout">
/// Sluice extension "answer_timeout", default 10 s, "0" disables: a TCP connection whose server sends nothing this
/// long after the app's latest bytes is closed as "wrong uuid?" (a VMess server that finds no user stays silent).
/// Risk: an app whose server is silent longer than this after its first request (a long-poll) is cut; raise it then.
/// </param>
/// <param name="PacketEncoding">UDP: Plain (VMess's UDP command, sing-box's default) or XUDP inside a Mux request.</param>
public sealed record VmessOutboundOptions(string Tag, ProxyServerOptions Server, byte[] Uuid, VmessSecurity Security, bool GlobalPadding,
    bool AuthenticatedLength, ProxyNetwork Network, TlsClientOptions? Tls, TransportOptions? Transport, VlessPacketEncoding PacketEncoding,
    TimeSpan AnswerTimeout) : OutboundOptions("vmess", Tag)
{
    public static readonly TimeSpan DefaultAnswerTimeout = TimeSpan.FromSeconds(10);
}

/// <summary>Parses a "vmess" outbound; registered in <see cref="OutboundSection"/>.</summary>
internal static class VmessOptionsParser
{
    public static OutboundOptions? Parse(ObjectReader r, string tag)
    {
        var server = ProxyOutboundParsers.ParseServer(r);
        string? uuidText = r.String("uuid");
        byte[]? uuid = null;
        if (uuidText is null) r.Errors.Add(r.PathOf("uuid"), "required: the VMess user id");
        else if (Guid.TryParseExact(uuidText, "D", out var guid)) uuid = guid.ToByteArray(bigEndian: true);
        else r.Errors.Add(r.PathOf("uuid"), "is not a UUID (8-4-4-4-12 hex digits)");
        var security = ParseSecurity(r, r.String("security"));
        long alterId = r.Integer("alter_id", 0, 65535) ?? 0;
        if (alterId > 0)
            r.Errors.Add(r.PathOf("alter_id"), $"{alterId}: the legacy MD5/timestamp header (alter_id > 0) is not supported by Sluice: set 0 for the AEAD header, which v2ray (4.34 and later), Xray and sing-box servers accept for any user");
        bool padding = r.Bool("global_padding", false);
        bool authenticatedLength = r.Bool("authenticated_length", false);
        var network = ProxyOutboundParsers.ParseNetwork(r);
        var tls = TlsOptionsParser.Parse(r);
        var transport = TransportOptionsParser.Parse(r);
        var encoding = VlessOptionsParser.ParseEncoding(r, whenAbsent: VlessPacketEncoding.Plain); // sing-box's vmess default: the UDP command
        if (security == VmessSecurity.Zero && network == ProxyNetwork.Udp && encoding == VlessPacketEncoding.Plain)
            r.Errors.Add(r.PathOf("security"), "\"zero\" sends the body bare, with no datagram boundaries: UDP needs another security or \"packet_encoding\": \"xudp\"");
        var answerTimeout = r.Duration("answer_timeout") ?? VmessOutboundOptions.DefaultAnswerTimeout;
        r.RefuseUnlessInert("multiplex", "not supported by Sluice yet");
        return server is null || uuid is null || security is null || alterId > 0 ? null
            : new VmessOutboundOptions(tag, server, uuid, security.Value, padding, authenticatedLength, network, tls, transport, encoding, answerTimeout);
    }

    /// <summary>The security a name stands for; "auto" (or absent) by this machine's AES speed, as v2ray and sing-box decide.</summary>
    public static VmessSecurity? SecurityNamed(string? name) => name switch
    {
        null or "" or "auto" => RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64 or Architecture.S390x
            ? VmessSecurity.Aes128Gcm : VmessSecurity.ChaCha20Poly1305,
        "aes-128-gcm" => VmessSecurity.Aes128Gcm,
        "chacha20-poly1305" => VmessSecurity.ChaCha20Poly1305,
        "none" => VmessSecurity.None,
        "zero" => VmessSecurity.Zero,
        _ => null,
    };

    private static VmessSecurity? ParseSecurity(ObjectReader r, string? name)
    {
        var security = SecurityNamed(name);
        if (security is not null) return security;
        string why = name is "aes-128-cfb" or "aes-128-ctr" or "legacy"
            ? "a legacy cipher, which Sluice does not speak (use \"auto\", \"aes-128-gcm\" or \"chacha20-poly1305\")"
            : "expected \"auto\", \"aes-128-gcm\", \"chacha20-poly1305\", \"none\" or \"zero\"";
        r.Errors.Add(r.PathOf("security"), $"{JsonPath.Quote(name!)}: {why}");
        return null;
    }
}
