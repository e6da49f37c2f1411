using System.Net;
using System.Net.Sockets;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;

namespace Sluice.Tests;

/// <summary>
/// Plain unmarked sockets standing in for the platform's, for tests and benchmarks on loopback.
/// With a <paramref name="refusal"/>, every socket request throws it instead (a test that proves nothing
/// was dialed around a detour). Names resolve from <see cref="Names"/> only; any other name fails as an
/// unknown host does. Linked into each project that needs it.
/// </summary>
internal sealed class PlainSockets(string? refusal = null) : ISocketFactory, IHostResolver
{
    /// <summary>Sockets made so far.</summary>
    public int Created;

    /// <summary>The host resolver's table.</summary>
    public Dictionary<string, IPAddress[]> Names { get; } = new(StringComparer.OrdinalIgnoreCase);

    public IHostResolver Hosts => this;

    public Socket CreateTcp(AddressFamily family, DialOptions? dial = null) => Make(family, SocketType.Stream, ProtocolType.Tcp);

    public Socket CreateUdp(AddressFamily family, DialOptions? dial = null) => Make(family, SocketType.Dgram, ProtocolType.Udp);

    public Socket CreateIcmp(AddressFamily family) => throw new NotSupportedException(refusal ?? "no ICMP sockets in tests");

    public Socket CreateOnDevice(AddressFamily family, SocketType type, string device) => throw new NotSupportedException(refusal ?? "no device sockets in tests");

    public Socket CreateTunListener(AddressFamily family) => Make(family, SocketType.Stream, ProtocolType.Tcp);

    /// <summary>Plain sockets take no tuning, as <see cref="CreateTcp"/> takes no dial fields (the Linux factory's tests prove both).</summary>
    public void TuneAccepted(Socket accepted, TcpKeepAlive? keepAlive)
    {
    }

    public ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        Names.TryGetValue(host, out var addresses)
            ? ValueTask.FromResult(addresses)
            : ValueTask.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));

    private Socket Make(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        if (refusal is not null) throw new InvalidOperationException(refusal);
        Interlocked.Increment(ref Created);
        return new Socket(family, type, protocol);
    }
}
