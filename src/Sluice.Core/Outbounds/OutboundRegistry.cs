using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Block;
using Sluice.Core.Outbounds.Direct;
using Sluice.Core.Outbounds.Groups;
using Sluice.Core.Outbounds.Http;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Core.Outbounds.Socks;
using Sluice.Core.Outbounds.Trojan;
using Sluice.Core.Outbounds.Vless;
using Sluice.Core.Outbounds.Vmess;

namespace Sluice.Core.Outbounds;

/// <summary>Maps a config outbound type to the factory that builds it. New protocols register here.</summary>
public static class OutboundRegistry
{
    private static readonly Dictionary<Type, Func<OutboundOptions, ISocketFactory, IOutbound>> Factories = new()
    {
        [typeof(DirectOutboundOptions)] = (o, sockets) => new DirectOutbound(o.Tag, ((DirectOutboundOptions)o).Dial, sockets, ((DirectOutboundOptions)o).DomainStrategy),
        [typeof(BlockOutboundOptions)] = (o, _) => new BlockOutbound(o.Tag),
    };

    /// <summary>Factories that need more than sockets (a logger, other outbounds): proxies and groups.</summary>
    private static readonly Dictionary<Type, Func<OutboundOptions, OutboundContext, IOutbound>> ContextFactories = new()
    {
        [typeof(ShadowsocksOutboundOptions)] = (o, c) => new ShadowsocksOutbound((ShadowsocksOutboundOptions)o, c, c.Logger("shadowsocks")),
        [typeof(SocksOutboundOptions)] = (o, c) => new SocksOutbound((SocksOutboundOptions)o, c),
        [typeof(HttpOutboundOptions)] = (o, c) => new HttpOutbound((HttpOutboundOptions)o, c, c.Logger("http")),
        [typeof(TrojanOutboundOptions)] = (o, c) => new TrojanOutbound((TrojanOutboundOptions)o, c, c.Logger("trojan")),
        [typeof(VlessOutboundOptions)] = (o, c) => new VlessOutbound((VlessOutboundOptions)o, c, c.Logger("vless")),
        [typeof(VmessOutboundOptions)] = (o, c) => new VmessOutbound((VmessOutboundOptions)o, c, c.Logger("vmess")),
        [typeof(GroupOutboundOptions)] = (o, c) => new OutboundGroup((GroupOutboundOptions)o,
            c.Resolve ?? throw new InvalidOperationException("a group needs OutboundContext.Resolve"), c.Logger("group")),
    };

    public static IOutbound Create(OutboundOptions options, ISocketFactory sockets) => Create(options, new OutboundContext(sockets));

    public static IOutbound Create(OutboundOptions options, OutboundContext context) =>
        ContextFactories.TryGetValue(options.GetType(), out var withContext)
            ? withContext(options, context)
            : Factories.TryGetValue(options.GetType(), out var factory)
                ? factory(options, context.Sockets)
                : throw new InvalidOperationException($"outbound type \"{options.Type}\" has no implementation registered");
}

/// <summary>What an outbound factory may use besides sockets.</summary>
/// <param name="Logs">Per-connection log lines (e.g. a proxy's "wrong password?"); null logs nothing.</param>
/// <param name="Resolve">Finds another outbound by tag (group members, detour); valid once all are created.</param>
/// <param name="Names">The engine's DNS server, for proxy servers' names (domain_resolver); null: the host's resolver.</param>
/// <param name="X25519">The own TLS client's key-share X25519 (<see cref="EnginePlatform.X25519"/>); null: the managed one.</param>
public sealed record OutboundContext(ISocketFactory Sockets, ILoggerFactory? Logs = null, Func<string, IOutbound?>? Resolve = null,
    IServerNameResolver? Names = null, Tls.IX25519? X25519 = null)
{
    public ILogger Logger(string category) => Logs?.CreateLogger(category) ?? NullLogger.Instance;
}
