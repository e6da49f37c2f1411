using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.Transport;

namespace Sluice.Core.Outbounds.Vless;

/// <summary>How UDP rides in VLESS ("packet_encoding").</summary>
public enum VlessPacketEncoding
{
    /// <summary>"" (none): VLESS's own UDP command, one connection per flow, length-prefixed datagrams.</summary>
    Plain,

    /// <summary>"xudp" (Xray's, sing-box's default): Mux.Cool frames with the UDP session inside one connection per flow.</summary>
    Xudp,
}

/// <summary>sing-box's "vless" outbound.</summary>
/// <param name="Uuid">The user id (16 bytes); a non-UUID string is mapped to its UUIDv5 as Xray does. Never logged.</param>
/// <param name="Flow">"" or "xtls-rprx-vision" (Vision over Sluice's own TLS 1.3 client or Reality; needs tls, no transport).</param>
public sealed record VlessOutboundOptions(string Tag, ProxyServerOptions Server, byte[] Uuid, string Flow, ProxyNetwork Network,
    TlsClientOptions? Tls, TransportOptions? Transport, VlessPacketEncoding PacketEncoding) : OutboundOptions("vless", Tag);

/// <summary>Parses a "vless" outbound; registered in <see cref="OutboundSection"/>.</summary>
internal static class VlessOptionsParser
{
    public const string Vision = "xtls-rprx-vision";

    public static OutboundOptions? Parse(ObjectReader r, string tag)
    {
        var server = ProxyOutboundParsers.ParseServer(r);
        string? uuidText = r.String("uuid");
        byte[]? uuid = null;
        if (uuidText is null) r.Errors.Add(r.PathOf("uuid"), "required: the VLESS user id");
        else if ((uuid = VlessProtocol.ParseUserId(uuidText)) is null)
            r.Errors.Add(r.PathOf("uuid"), "is neither a UUID (8-4-4-4-12 hex digits) nor a custom id of 1 to 30 bytes");
        string flow = r.String("flow") ?? "";
        if (flow.Length > 0 && flow != Vision)
            r.Errors.Add(r.PathOf("flow"), $"{JsonPath.Quote(flow)} is not a VLESS flow (\"\" or \"xtls-rprx-vision\")");
        var network = ProxyOutboundParsers.ParseNetwork(r);
        var tls = TlsOptionsParser.Parse(r);
        var transport = TransportOptionsParser.Parse(r);
        if (flow == Vision && tls is null)
            r.Errors.Add(r.PathOf("flow"), "\"xtls-rprx-vision\" needs \"tls\" (Vision runs inside TLS 1.3 or Reality)");
        if (flow == Vision && transport is not null)
            r.Errors.Add(r.PathOf("flow"), "\"xtls-rprx-vision\" needs TLS straight over TCP: no \"transport\"");
        var encoding = ParseEncoding(r);
        r.RefuseUnlessInert("multiplex", "not supported by Sluice yet");
        return server is null || uuid is null || (flow.Length > 0 && flow != Vision) ? null
            : new VlessOutboundOptions(tag, server, uuid, flow, network, tls, transport, encoding);
    }

    /// <summary>"packet_encoding" of vless (absent: xudp, sing-box's "xudp is used by default") and vmess (absent: the UDP command).</summary>
    internal static VlessPacketEncoding ParseEncoding(ObjectReader r, VlessPacketEncoding whenAbsent = VlessPacketEncoding.Xudp)
    {
        bool present = r.Has("packet_encoding");
        string? text = r.String("packet_encoding");
        switch (text)
        {
            case null when !present:
                return whenAbsent;
            case "" or "none":
                return VlessPacketEncoding.Plain;
            case "xudp":
                return VlessPacketEncoding.Xudp;
            case "packetaddr":
                r.Errors.Add(r.PathOf("packet_encoding"), "\"packetaddr\" (v2ray 5) is not supported by Sluice yet (use \"xudp\" or \"\")");
                return VlessPacketEncoding.Plain;
            default:
                if (text is not null) r.Errors.Add(r.PathOf("packet_encoding"), $"{JsonPath.Quote(text)}: expected \"\", \"xudp\" or \"packetaddr\"");
                return VlessPacketEncoding.Plain;
        }
    }
}
