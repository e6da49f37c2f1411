using Sluice.Core.Outbounds;

namespace Sluice.Core.Tests.Stack;

/// <summary>An outbound whose UDP channels open at once and never receive anything (a silent destination).</summary>
internal sealed class SilentOutbound : IOutbound
{
    public int Opened;

    public string Tag => "out";

    public string Type => "silent";

    public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken) =>
        throw new OutboundException("a silent outbound dials no TCP");

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Opened);
        return ValueTask.FromResult<IUdpChannel>(new Channel());
    }

    public void Dispose()
    {
    }

    private sealed class Channel : IUdpChannel
    {
        public void Send(ReadOnlySpan<byte> payload)
        {
        }

        public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public void Dispose()
        {
        }
    }
}
