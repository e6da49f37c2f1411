namespace Sluice.Core.Outbounds.Block;

/// <summary>
/// Refuses every flow. The packet path treats a route to a block outbound as a reject decision
/// (RST / ICMP unreachable at the first packet), so these methods only run when called directly.
/// </summary>
internal sealed class BlockOutbound(string tag) : IOutbound
{
    public string Tag => tag;

    public string Type => "block";

    public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken) =>
        throw new OutboundException($"block: {destination} refused by outbound \"{tag}\"");

    public bool CarriesUdp => false;

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) =>
        throw new OutboundException($"block: {destination} refused by outbound \"{tag}\"");

    public void Dispose()
    {
    }
}
