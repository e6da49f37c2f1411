namespace Sluice.Core.Dns;

/// <summary>
/// Answering without an upstream, or saying that one is needed before anything is started: the hijack asks this first,
/// so a query answered at once (a cache hit, hosts, a fake IP, a rule's own answer or refusal) takes no share of the
/// queries waiting for an upstream, and the querying socket's owner (whose share it would be) is not looked up for it.
/// </summary>
public sealed partial class DnsServer
{
    // The "an upstream must be asked" result of an at-once pass: nothing was started, counted or logged for the query.
    private static readonly ValueTask<int> NeedsUpstream = new(-1);

    private static bool IsNeedsUpstream(ValueTask<int> result) => result.IsCompletedSuccessfully && result.Result < 0;

    /// <summary>
    /// Answers <paramref name="query"/> into <paramref name="response"/> when that needs no upstream: true, with the
    /// answer's <paramref name="length"/> (0: send nothing), exactly as <see cref="HandleAsync"/> would have answered.
    /// False when an upstream server must be asked (or a cached answer is stale): nothing was started, and the caller
    /// passes the query to <see cref="HandleAsync"/>.
    /// </summary>
    public bool TryAnswerAtOnce(ReadOnlyMemory<byte> query, Memory<byte> response, DnsQuerier querier, int maxUdpSize, out int length)
    {
        var result = HandleGuarded(query, response, querier, maxUdpSize, atOnceOnly: true, CancellationToken.None);
        length = result.IsCompletedSuccessfully ? result.Result : -1; // an at-once pass never waits
        return length >= 0;
    }

    /// <summary>
    /// The most a UDP client can take in one answer: its EDNS payload size (RFC 6891 6.2.5, at least 512), else 512
    /// (RFC 1035 4.2.1). What <see cref="HandleAsync"/> truncates a UDP answer to, before its own maxUdpSize.
    /// </summary>
    internal static int ClientUdpLimit(ReadOnlySpan<byte> query)
    {
        Span<byte> name = stackalloc byte[DnsName.MaxWireLength];
        DnsQuery.Parse(query, name, out var parsed, out _);
        return parsed.HasOpt ? parsed.UdpSize : 512;
    }
}
