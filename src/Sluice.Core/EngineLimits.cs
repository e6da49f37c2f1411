namespace Sluice.Core;

/// <summary>
/// Every limit of the engine's data path, with its default and why (docs/config.md lists them). One record
/// so a host or a test can change them in one place; the engine reads them at start. The table and
/// queue caps keep a root engine's memory finite whatever local apps or remote senders do.
/// </summary>
public sealed record EngineLimits
{
    public static EngineLimits Default { get; } = new();

    /// <summary>A TCP flow on an L3 lane (WireGuard) is forgotten after this long without a packet: 10 min, about what home NATs keep an idle established connection.</summary>
    public TimeSpan L3TcpIdle { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// A TCP flow on an L3 lane that has ended (a FIN each way, or a RST either way) is forgotten after this long without
    /// a packet: 10 s, so the last ACK and a resent FIN still pass (Linux conntrack keeps a reset flow 10 s too). Without
    /// it every short connection stayed for <see cref="L3TcpIdle"/>: 5,000 a minute kept ~50,000 flows (~50 MB).
    /// </summary>
    public TimeSpan L3TcpClosedGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A UDP flow (L3 lane or user-space session) ends after this long without a datagram: 60 s (sing-box keeps 5 min; shorter frees state sooner, and a UDP app sends again anyway).</summary>
    public TimeSpan UdpIdle { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>An ICMP echo flow, its routing decision and a relayed request waiting for its reply live this long: 30 s (ping's default wait is 10 s).</summary>
    public TimeSpan IcmpIdle { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A TCP NAT entry whose connection the relay never accepted (a SYN that went nowhere) is freed after 60 s, as the kernel gives up on SYN retries by then.</summary>
    public TimeSpan TcpNatUnaccepted { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A closed relay's NAT entry stays 10 s, so the last FIN/ACK segments are still rewritten instead of answered with RST.</summary>
    public TimeSpan TcpNatClosedGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often idle NAT entries, UDP sessions, L3 flows and ICMP requests are swept: 5 s (bounds how long past its timeout a flow may live).</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a new TCP flow may wait for its first bytes when a sniff rule needs them, if the rule names no sniff_timeout: 300 ms (sing-box's default).</summary>
    public TimeSpan SniffTimeout { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>How many bytes of a new TCP flow are read for sniffing TLS SNI / HTTP Host: 8 KiB holds a ClientHello with post-quantum key shares.</summary>
    public int SniffBytes { get; init; } = 8 * 1024;

    /// <summary>Packets read from the TUN per batch: 64 (one syscall each with offload; more only lengthens the batch's latency).</summary>
    public int TunBatch { get; init; } = 64;

    /// <summary>
    /// Bytes of the TUN batch's pinned slab, which bounds <see cref="TunBatch"/> at a large MTU: 1 MiB (15 packets at
    /// the default MTU 65535; all 64 at MTU 9000 or 1500). Under load every slot gets written, so the whole slab stays
    /// resident: 64 slots at MTU 65535 were 4.2 MiB. Fewer slots cost one batch's lock and flush more per megabyte, not
    /// a read more.
    /// </summary>
    public int TunBatchBytes { get; init; } = 1024 * 1024;

    /// <summary>ICMP echo flows whose decision is remembered before the stale ones are swept at once: 4096 (a ping sweep of a /20).</summary>
    public int IcmpDecisions { get; init; } = 4096;

    /// <summary>Bytes of each direction's buffer in a relayed TCP connection: 128 KiB (a full TCP window per read on a fast link; less costs throughput, more costs memory per connection). A direction that reads a socket rents it only while bytes are in flight, so an idle flow holds none.</summary>
    public int RelayBuffer { get; init; } = 128 * 1024;

    /// <summary>
    /// Bytes of relay buffers in use (all relayed TCP connections' directions together) up to which a direction that has
    /// bytes to move rents a large <see cref="RelayBuffer"/>; beyond it, a <see cref="RelayBufferSmall"/> one: 4 MiB (16
    /// bulk transfers both ways at full size). A buffer goes back once its bytes are written, so the large ones pass
    /// between busy connections. 0: every buffer is small. Risk: too low costs a lone fast transfer throughput (more
    /// syscalls per megabyte); too high lets 1,000 busy connections hold 1,000 large buffers (128 MiB), where an
    /// embedded engine is killed above 50 MiB.
    /// </summary>
    public long RelayBufferBudget { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// Bytes of a relay buffer rented beyond <see cref="RelayBufferBudget"/>: 8 KiB (half a Shadowsocks chunk, sealed in
    /// place; a busy connection beyond the budget holds one per direction while its write waits). Less costs syscalls,
    /// more memory per busy connection: 16 KiB made 1,000 busy Shadowsocks streams 6–7 MiB larger (bench/README.md,
    /// branches ssmem7 and mem8); only connections beyond the budget (16 bulk transfers) read in 8 KiB steps.
    /// </summary>
    public int RelayBufferSmall { get; init; } = 8 * 1024;

    /// <summary>
    /// Small relay buffers kept for reuse once given back: at most 4096 (64 MiB of 16 KiB ones). The pool keeps no more
    /// than are in use at the time (at least 16), so it shrinks as a burst ends, and is emptied when the memory trimmer
    /// runs. 0: none kept, each returned buffer is garbage. Risk: a low bound makes many busy connections allocate
    /// their buffers anew, garbage the collector must find (promoted while their writes waited).
    /// </summary>
    public int RelayBufferPool { get; init; } = 4096;
    /// <summary>
    /// UDP sessions (app 5-tuples) alive at once; default 2048. At the cap the least recently active
    /// sessions are closed (a later datagram of theirs opens a new one) and counted. A proxied session
    /// holds one pooled receive buffer (64 KiB) while waiting for an answer, so the cap bounds that memory
    /// too; a direct one rents it only while a datagram is there.
    /// </summary>
    public int UdpSessions { get; init; } = 2048;

    /// <summary>Sessions closed in one eviction when the cap is reached: a sixteenth, so a flood does not sort on every packet.</summary>
    public int UdpEvictionBatch => Math.Max(1, UdpSessions / 16);

    /// <summary>
    /// New flows waiting for their process (a rule names one and only a /proc scan can find it) at once: 256. Their
    /// first packet waits off the packet thread, which serves every other flow meanwhile; more are dropped (the app
    /// sends its SYN or datagram again).
    /// </summary>
    public int PendingOwnerLookups { get; init; } = 256;

    /// <summary>
    /// Hijacked DNS queries waiting for an upstream, per owner: the uid of the app's socket, or the querying address
    /// when no local socket is found (<see cref="Stack.DnsQueryOwner"/>); default 64. More of that owner's are dropped
    /// (UDP: the app retries), so one app flooding a silent upstream leaves every other user's DNS answered.
    /// </summary>
    public int PendingDnsPerOwner { get; init; } = 64;

    /// <summary>
    /// Hijacked DNS queries waiting for an upstream in total; default 512, so eight owners at their cap fill it. Each holds
    /// a copy of itself and the answer room its client can take (512 bytes without EDNS), and its upstream exchange a
    /// 64 KiB receive buffer (one per distinct question: identical ones share it).
    /// </summary>
    public int PendingDnsTotal { get; init; } = 512;

    /// <summary>
    /// Flows that must have closed since the most that were live at once, with at most half of that mark still live,
    /// before the engine gives the burst's memory back (<see cref="Monitoring.MemoryTrimmer"/>: one compacting full
    /// collection and the native allocator's trim, <see cref="TrimDelay"/> later); default 256. Lower trims after
    /// smaller bursts (each trim blocks the engine for a few milliseconds, and the next burst pays its page faults again);
    /// 0 never trims, and the peak RSS becomes the sum of the bursts' leftovers. Also the live flows at which the start's
    /// trim leaves out its collection (a burst is ramping; its end collects).
    /// </summary>
    public int TrimAfterClosedFlows { get; init; } = 256;

    /// <summary>
    /// Hijacked DNS queries that must have waited for an upstream and finished since the last trim, with none waiting now,
    /// before the engine gives their memory back the same way (a flood of random names tracks no flow, but churns through
    /// sockets and buffers); default 1,024: an ordinary host's lookups reach it in minutes, a flood in a fraction of a
    /// second. 0 never trims for DNS.
    /// </summary>
    public int TrimAfterDnsQueries { get; init; } = 1024;

    /// <summary>How long after a burst's end was seen its memory is given back: 1 s (the rest of the burst closes meanwhile; also the shortest time between two trims).</summary>
    public TimeSpan TrimDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Bytes of a config file the daemon or <c>sluice run</c> reads: 16 MiB. The JSON is parsed whole; a config
    /// with inline rules for 100,000 domains is about 4 MiB, so 16 MiB leaves room and still bounds what a
    /// path named over the API makes the root daemon hold.
    /// </summary>
    public long ConfigFileBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Bytes of a hosts file (<c>path</c> of a hosts DNS server): 32 MiB; the largest public block-list hosts files are about 5 MiB and every line becomes a table entry.</summary>
    public long HostsFileBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>
    /// TLS 1.3 session tickets kept per TLS outbound of Sluice's own client, for resumption: 8 (OpenSSL sends 2 per
    /// handshake, Go 1; each is used once). 0: no resumption, every connection a full handshake. Risk: each ticket is
    /// up to 64 KiB from the server (a few hundred bytes in practice); too few makes concurrent connections fall back
    /// to full handshakes.
    /// </summary>
    public int TlsSessionTickets { get; init; } = 8;

    /// <summary>Bytes of a PEM file (<c>certificate_path</c>, a subscription's <c>ca_file</c>): 1 MiB; the whole Mozilla root bundle is about 220 KiB.</summary>
    public long PemFileBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// How long a system root that a TLS outbound's server chained to is checked alone, without the whole system store
    /// (TlsTrust): 10 min. A chain to another root, or any refusal, is checked against the whole store at once; so a
    /// root removed from the system store is still trusted for this outbound for at most this long.
    /// </summary>
    public TimeSpan TlsSystemAnchorReuse { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Bytes of a local rule-set file: 64 MiB, the same as a downloaded one (RemoteRuleSetFetcher), about 2 million domains in
    /// source form. A compact binary set is held to what a source file of this size could say: a mihomo .mrs body may
    /// decompress to at most this many bytes, the names a binary domain set (.srs or .mrs) expands to may total at most
    /// this many bytes, and an .mrs IP set may expand to at most this many bytes / 16 CIDRs (4 Mi; each range becomes up
    /// to 254 of them). Raising it lets one file take more memory at load.
    /// </summary>
    public long RuleSetFileBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>
    /// How long one of a subscription's name filters (<c>filter</c>, <c>exclude_filter</c>) may take on one server name:
    /// 100 ms. They are backtracking expressions (mihomo's profiles rely on lookaheads such as <c>^(?!.*expire)</c>) and the
    /// names come from the provider, so the bound keeps a hostile name from holding the fetch; a name that runs out of
    /// time counts as not matching, as mihomo treats a failed match. The same bound holds a subscription's
    /// <c>override.tag_replace</c> steps (a step that runs out of time leaves the tag as it was).
    /// </summary>
    public TimeSpan NameFilterTimeout { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// An HTTP/2 connection of an "http" or "grpc" transport with no stream open is closed after this long when the
    /// transport's idle_timeout is 0: 60 s, so a burst of connections reuses one connection and an idle outbound holds none.
    /// </summary>
    public TimeSpan Http2IdleConnection { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// HTTP/2 connections one "http"/"grpc" outbound opens to its server at most: 8. Each carries as many streams as the
    /// server allows (SETTINGS_MAX_CONCURRENT_STREAMS: 250 in Go's servers, 100 in gRPC's); past all of them a new stream
    /// waits for a free one.
    /// </summary>
    public int Http2ConnectionsPerOutbound { get; init; } = 8;

    /// <summary>
    /// The largest gRPC message (a gun Hunk) accepted from a server: 4 MiB, gRPC's own default receive limit. A message is
    /// streamed, not buffered, so this only refuses a peer whose length prefix is nonsense (up to 4 GiB).
    /// </summary>
    public int GunMessageBytes { get; init; } = 4 * 1024 * 1024;
}
