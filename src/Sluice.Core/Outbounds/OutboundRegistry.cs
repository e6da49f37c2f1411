using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Block;
using Sluice.Core.Outbounds.Direct;

namespace Sluice.Core.Outbounds;

/// <summary>Maps a config outbound type to the factory that builds it. New protocols register here.</summary>
public static class OutboundRegistry
{
    private static readonly Dictionary<Type, Func<OutboundOptions, ISocketFactory, IOutbound>> Factories = new()
    {
        [typeof(DirectOutboundOptions)] = (o, sockets) => new DirectOutbound(o.Tag, ((DirectOutboundOptions)o).Dial, sockets),
        [typeof(BlockOutboundOptions)] = (o, _) => new BlockOutbound(o.Tag),
    };

    public static IOutbound Create(OutboundOptions options, ISocketFactory sockets) =>
        Factories.TryGetValue(options.GetType(), out var factory)
            ? factory(options, sockets)
            : throw new InvalidOperationException($"outbound type \"{options.Type}\" has no implementation registered");
}
