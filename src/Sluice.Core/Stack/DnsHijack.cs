using System.Buffers;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Sluice.Core.Dns;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// Port-53 traffic a rule hijacks (action hijack-dns) is answered by the built-in DNS server:
/// 1. UDP: each query datagram is answered asynchronously; the answer is built as an IP/UDP packet
///    from the address the app asked (whatever resolver it thought it was talking to) and written to the TUN;
/// 2. TCP: the relay hands over the accepted socket; a <see cref="DnsStreamSession"/> answers its messages.
/// The querying process is resolved only if a DNS rule asks for it.
/// </summary>
internal sealed partial class DnsHijack(DnsServer server, ITunDevice tun, ILogger logger)
{
    private const int MaxMessage = 65535;
    private readonly CancellationTokenSource _stop = new();

    public IDomainMap Map => server.Map;

    /// <summary>The querying app as the DNS rules see it; its process is looked up only if a rule asks.</summary>
    public static DnsQuerier QuerierFor(FlowContext flow) => new(flow.Inbound, () => flow.Process);

    /// <summary>
    /// The real address for a name, for lanes that cannot dial a name (direct, WireGuard) when the app
    /// only ever saw a fake IP. Prefers the family the app used; null when the name does not resolve.
    /// </summary>
    public async ValueTask<NetAddress?> ResolveRealAsync(string domain, bool preferV4, CancellationToken ct)
    {
        try
        {
            var addresses = await server.ResolveForEngineAsync(domain, ct);
            var family = preferV4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
            var pick = addresses.FirstOrDefault(a => a.AddressFamily == family) ?? addresses.FirstOrDefault();
            return pick is null ? null : NetAddress.FromIPAddress(pick);
        }
        catch (Exception e) when (e is DnsLookupException or OperationCanceledException or SocketException)
        {
            LogFailed(logger, domain, e.Message);
            return null;
        }
    }

    // The packet thread's buffers. A query that has to wait for an upstream keeps the pair it was
    // given (the server may write into them later) and the packet thread takes a fresh pair.
    private byte[] _inlineQuery = ArrayPool<byte>.Shared.Rent(MaxMessage);
    private byte[] _inlinePacket = ArrayPool<byte>.Shared.Rent(48 + MaxMessage);

    /// <summary>
    /// Answers one hijacked UDP query (packet thread). A cache hit completes synchronously and is
    /// answered right here without allocating; a query that needs an upstream finishes off-thread.
    /// </summary>
    public void OnUdpQuery(in FlowKey key, ReadOnlySpan<byte> payload, DnsQuerier querier)
    {
        int header = PacketBuilder.IpUdpHeaderLength(key.IsV4);
        byte[] query = _inlineQuery, packet = _inlinePacket;
        payload.CopyTo(query);
        var pending = server.HandleAsync(query.AsMemory(0, payload.Length), packet.AsMemory(header, MaxMessage), querier, 65535 - header, _stop.Token);
        if (pending.IsCompletedSuccessfully)
        {
            WriteAnswer(key, packet, pending.Result);
            return;
        }
        _inlineQuery = ArrayPool<byte>.Shared.Rent(MaxMessage);
        _inlinePacket = ArrayPool<byte>.Shared.Rent(48 + MaxMessage);
        _ = FinishAsync(pending, key, query, packet);
    }

    private void WriteAnswer(in FlowKey key, byte[] packet, int length)
    {
        if (length <= 0) return;
        int total = PacketBuilder.UdpInPlace(packet, key.Destination, key.DestinationPort, key.Source, key.SourcePort, length);
        tun.Write(packet.AsSpan(0, total));
    }

    private async Task FinishAsync(ValueTask<int> pending, FlowKey key, byte[] query, byte[] packet)
    {
        try
        {
            WriteAnswer(key, packet, await pending);
        }
        catch (Exception e)
        {
            LogFailed(logger, key.ToString(), e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(packet);
        }
    }

    /// <summary>Serves DNS over TCP on a hijacked, accepted connection until the app closes it or goes idle.</summary>
    public Task ServeTcpAsync(Socket client, FlowContext flow, byte[]? firstBytes, int firstLength)
    {
        var stream = new NetworkStream(client, ownsSocket: false);
        var input = firstLength > 0 ? new PrefixedStream(stream, firstBytes!, firstLength) : (Stream)stream;
        return DnsStreamSession.ServeAsync(server, input, stream, QuerierFor(flow), DnsStreamSession.IdleTimeout, _stop.Token);
    }

    public void Stop() => _stop.Cancel();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: DNS answer failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string flow, string reason);
}
