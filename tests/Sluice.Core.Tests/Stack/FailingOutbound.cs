using Sluice.Core.Outbounds;

namespace Sluice.Core.Tests.Stack;

/// <summary>An outbound whose every dial and UDP open fails with <c>failure</c>: the paths nobody listed in a catch clause.</summary>
internal sealed class FailingOutbound(Exception failure) : IOutbound
{
    public int Opened;

    public string Tag => "out";

    public string Type => "failing";

    public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken) => throw failure;

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Opened);
        return ValueTask.FromException<IUdpChannel>(failure);
    }

    public void Dispose()
    {
    }
}
