using Sluice.Core.Outbounds;

namespace Sluice.Core.Tests.Stack;

/// <summary>A lane that counts UDP opens (which must not happen when it cannot carry UDP).</summary>
internal sealed class UdpRecordingOutbound(string tag, bool carriesUdp) : IOutbound
{
    public int Opened;

    public string Tag => tag;

    public string Type => "recording";

    public bool CarriesUdp => carriesUdp;

    public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken) => throw new NotSupportedException();

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Opened);
        return ValueTask.FromException<IUdpChannel>(new OutboundException("recording lane"));
    }

    public void Dispose()
    {
    }
}
