using Sluice.Core.Outbounds.Vision;

namespace Sluice.Core.Outbounds.Vless;

/// <summary>
/// flow "xtls-rprx-vision": the connection runs Sluice's own TLS 1.3 client (Reality when configured), the
/// request carries the flow addon and goes out with the first Vision frame, and <see cref="VisionStream"/>
/// pads until the inner TLS handshake ends, then copies directly. UDP rides as XUDP inside the same Vision
/// stream (Xray turns every Vision UDP flow into a Mux request); UDP to port 443 is refused as Xray does
/// (QUIC would defeat Vision's TLS-in-TLS hiding).
/// </summary>
internal sealed partial class VlessOutbound
{
    private async ValueTask<Stream> DialVisionAsync(byte command, Destination destination, CancellationToken cancellationToken)
    {
        var tls = await _dialer.ConnectOwnTlsAsync(cancellationToken);
        var request = VlessProtocol.Request(_options.Uuid, command, destination, VisionStream.FlowAddon);
        return new VisionStream(tls, _options.Uuid, request, (stream, token) => ReadResponseAsync(stream, destination, token));
    }

    private async ValueTask<IUdpChannel> OpenVisionUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        if (destination.Port == 443)
            throw new OutboundException($"{Server.Who}: UDP to port 443 is refused with flow xtls-rprx-vision (as Xray does: QUIC would show through Vision)");
        var stream = await DialVisionAsync(VlessProtocol.Mux, destination, cancellationToken);
        return new StreamDatagramChannel(stream, new XudpFraming(destination), Server.Who);
    }

    /// <summary>The VLESS answer header, read a byte at a time so no Vision frame byte is taken with it.</summary>
    private async ValueTask ReadResponseAsync(Stream stream, Destination destination, CancellationToken cancellationToken)
    {
        var header = new VlessResponseHeader();
        var one = new byte[1];
        while (!header.Done)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                LogRefused(_logger, Server.Who, destination.ToString());
                throw new IOException($"{Server.Who}: the server closed the connection without answering");
            }
            header.Consume(one);
        }
    }
}
