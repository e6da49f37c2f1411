using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.Transport;

namespace Sluice.Core.Outbounds.Trojan;

/// <summary>sing-box's "trojan" outbound.</summary>
/// <param name="Password">Sent as hex(SHA-224(password)); never logged.</param>
/// <param name="Tls">The "tls" object; null = plain TCP (only for a server behind a TLS-terminating front).</param>
/// <param name="Transport">The V2Ray "transport"; null = the stream itself.</param>
public sealed record TrojanOutboundOptions(string Tag, ProxyServerOptions Server, string Password, ProxyNetwork Network,
    TlsClientOptions? Tls, TransportOptions? Transport) : OutboundOptions("trojan", Tag);

/// <summary>Parses a "trojan" outbound; registered in <see cref="OutboundSection"/>.</summary>
internal static class TrojanOptionsParser
{
    public static OutboundOptions? Parse(ObjectReader r, string tag)
    {
        var server = ProxyOutboundParsers.ParseServer(r);
        string? password = r.String("password");
        if (password is null) r.Errors.Add(r.PathOf("password"), "required");
        else if (password.Length == 0) r.Errors.Add(r.PathOf("password"), "must not be empty");
        var network = ProxyOutboundParsers.ParseNetwork(r);
        var tls = TlsOptionsParser.Parse(r);
        var transport = TransportOptionsParser.Parse(r);
        r.RefuseUnlessInert("multiplex", "not supported by Sluice yet");
        return server is null || password is not { Length: > 0 } ? null : new TrojanOutboundOptions(tag, server, password, network, tls, transport);
    }
}
