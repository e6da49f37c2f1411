namespace Sluice.Core;

/// <summary>
/// The bounds that keep a root engine's memory finite whatever local apps or remote senders do
/// (docs/config.md#limits). One place, so the docs, the tests and the code say the same numbers.
/// </summary>
public sealed record EngineLimits
{
    public static EngineLimits Default { get; } = new();

    /// <summary>
    /// UDP sessions (app 5-tuples) alive at once; default 2048. At the cap the least recently active
    /// sessions are closed (a later datagram of theirs opens a new one) and counted. Each holds one
    /// pooled receive buffer (64 KiB) while waiting for an answer, so the cap bounds that memory too.
    /// </summary>
    public int UdpSessions { get; init; } = 2048;

    /// <summary>Sessions closed in one eviction when the cap is reached: a sixteenth, so a flood does not sort on every packet.</summary>
    public int UdpEvictionBatch => Math.Max(1, UdpSessions / 16);

    /// <summary>Hijacked DNS queries waiting for an upstream, per querying address; default 64. More are dropped (UDP: the app retries).</summary>
    public int PendingDnsPerClient { get; init; } = 64;

    /// <summary>Hijacked DNS queries waiting for an upstream in total; default 512 (each holds ~128 KiB of pooled buffers).</summary>
    public int PendingDnsTotal { get; init; } = 512;
}
