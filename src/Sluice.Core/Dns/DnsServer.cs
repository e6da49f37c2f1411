using System.Net;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Direct;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>
/// The built-in DNS server. One query goes through these stages:
/// 1. Parse the header and the one question (drop responses and runts; FORMERR / NOTIMP otherwise).
/// 2. Match dns.rules against the name, type, inbound and (lazily) process: first match, else final.
/// 3. Actions: reject → REFUSED or nothing; predefined → fixed records; route → a server, after the
///    strategy filter (ipv4_only answers AAAA with NODATA without asking anyone).
/// 4. fakeip and hosts servers answer at once. Upstream servers: a live cached answer (per server) is
///    copied out with TTLs counted down, without allocating; otherwise one exchange per question and
///    server is in flight at a time and every identical query waits for it.
/// 5. The upstream answer is checked (ID, question, every record in bounds), cached by its TTL (NXDOMAIN
///    and NODATA by the SOA's, RFC 2308), its addresses fed to the IP → domain map, and written with the
///    client's ID and question; SERVFAIL when the exchange failed or took longer than the timeout.
/// </summary>
public sealed partial class DnsServer : IAsyncDisposable, IServerNameResolver
{
    /// <summary>TTL of hosts answers (sing-box's default DNS TTL).</summary>
    internal const uint HostsTtl = 600;

    /// <summary>Fake addresses are only valid while the map holds them; TTL 1 keeps apps asking (sing-box does the same).</summary>
    internal const uint FakeIpTtl = 1;

    internal const string BootstrapTag = "bootstrap";

    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;
    private readonly ServerEntry[] _servers;
    private readonly (DnsRule Rule, Decision Decision)[] _rules;
    private readonly Decision _final;
    private readonly int _engineServer;
    private readonly bool _hasDefaultResolver;
    private readonly DnsStrategy? _defaultStrategy;
    private readonly DnsStrategy _strategy;
    private readonly DnsCache? _cache;
    private readonly bool _reverseMapping;
    private readonly DomainMap _map;
    private readonly Dictionary<byte[], Task<DnsAnswer?>> _inflight = new(ByteKeyComparer.Instance);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<FileWatch> _watches = [];

    private DnsServer(DnsOptions options, ServerEntry[] servers, int engineServer, ILogger log, TimeProvider time, Routing.RuleScope scope)
    {
        _log = log;
        _time = time;
        _timeout = options.Timeout;
        _servers = servers;
        _engineServer = engineServer;
        _hasDefaultResolver = options.DefaultDomainResolver is not null;
        _defaultStrategy = options.DefaultDomainStrategy;
        _strategy = options.Strategy;
        _reverseMapping = options.ReverseMapping;
        _cache = options.DisableCache ? null : new DnsCache(Math.Max(options.CacheCapacity, 1), time);
        _map = new DomainMap(servers.SelectMany(s => new[] { s.FakeV4, s.FakeV6 }).OfType<FakeIpPool>(), Math.Max(options.CacheCapacity * 16, 65536));
        _rules = options.Rules.Select(r => (DnsRule.Compile(r, scope), Decision.From(r.Action!, options, servers))).ToArray();
        int final = options.Final is { } f ? Array.FindIndex(servers, s => s.Tag == f) : 0;
        _final = Decision.Route(Math.Max(final, 0), options.Strategy, disableCache: false, $"final {servers[Math.Max(final, 0)].Tag}");
        Statistics = new DnsStatistics(servers.Select(s => s.Tag).ToArray());
    }

    public IDomainMap Map => _map;

    /// <summary>The fakeip servers' address pools by server tag and family (the cache file saves and restores them).</summary>
    internal IEnumerable<(string Key, FakeIpPool Pool)> FakePools =>
        _servers.SelectMany(s => new[] { (s.Tag + "/4", s.FakeV4), (s.Tag + "/6", s.FakeV6) }).Where(p => p.Item2 is not null).Select(p => (p.Item1, p.Item2!));

    public DnsStatistics Statistics { get; }

    /// <summary>
    /// Builds the server. <paramref name="resolveDetour"/> maps a server's <c>detour</c> tag to its
    /// outbound (direct, a proxy, or the WireGuard endpoint) and is called on first use; servers without
    /// a detour use marked sockets from <paramref name="sockets"/>. Throws <see cref="ArgumentException"/>
    /// for an options object the config loader would have refused. <paramref name="environment"/> is where
    /// the platform keeps the host's resolver settings.
    /// </summary>
    /// <param name="scope">Rule sets and the Clash mode that rule_set / clash_mode items read; default none.</param>
    public static DnsServer Create(DnsOptions options, Func<string?, IOutbound> resolveDetour, ISocketFactory sockets, ILoggerFactory logs,
        TimeProvider time, DnsEnvironment environment, Routing.RuleScope? scope = null, IFileChangeNotifier? fileChanges = null)
    {
        var log = logs.CreateLogger("dns");
        var configured = options.Servers.ToList();
        // The host's resolvers are always there for the engine's own lookups and for names of servers.
        configured.Add(new LocalDnsServerOptions(configured.Any(s => s.Tag == BootstrapTag) ? $"{BootstrapTag}-{Guid.NewGuid():N}" : BootstrapTag));
        int engine = options.DefaultDomainResolver is { } resolverTag
            ? configured.FindIndex(s => s.Tag == resolverTag)
            : configured.FindIndex(s => s is LocalDnsServerOptions);
        if (engine < 0) throw new ArgumentException($"route.default_domain_resolver: no DNS server has tag \"{options.DefaultDomainResolver}\"", nameof(options));
        CheckResolverChains(configured, engine);

        var direct = new DirectOutbound("dns-direct", DialOptions.Default, sockets);
        var servers = new ServerEntry[configured.Count];
        DnsServer? server = null;
        for (int i = 0; i < configured.Count; i++)
        {
            var o = configured[i];
            int resolver = o is RemoteDnsServerOptions { DomainResolver: { } tag } ? configured.FindIndex(s => s.Tag == tag) : engine;
            servers[i] = ServerEntry.Create(i, o, resolver, options, environment, direct, resolveDetour, log,
                (serverIndex, host, ct) => server!.ResolveWithAsync(serverIndex, host, ct));
            servers[i].ClientSubnet = o.ClientSubnet ?? options.ClientSubnet;
        }
        server = new DnsServer(options, servers, engine, log, time, scope ?? Routing.RuleScope.Empty);
        server.WatchFiles(time, fileChanges);
        return server;
    }

    /// <summary>
    /// Hosts files and resolv.conf are read again when they change on disk (<see cref="FileWatch"/>);
    /// the new state replaces the old at once, and a file that cannot be used keeps the old state.
    /// Cached answers of a local server stay until their TTL runs out.
    /// </summary>
    private void WatchFiles(TimeProvider time, IFileChangeNotifier? fileChanges)
    {
        foreach (var entry in _servers)
        {
            if (entry.Hosts is { Paths.Count: > 0 } hosts) _watches.Add(new FileWatch(hosts.Paths, time, () => hosts.Reload(), fileChanges));
            if (entry.Transport is LocalTransport { ResolvConfPath.Length: > 0 } local) _watches.Add(new FileWatch([local.ResolvConfPath], time, () => ReloadLocal(entry, local), fileChanges));
        }
    }

    private void ReloadLocal(ServerEntry entry, LocalTransport local)
    {
        bool reloaded = local.Reload(out string? problem);
        string nameservers = string.Join(", ", local.Nameservers);
        entry.Address = nameservers;
        // The engine's own bootstrap copy reloads quietly: a configured local server says the same.
        if (entry.Tag.StartsWith(BootstrapTag, StringComparison.Ordinal)) return;
        if (reloaded) DnsLog.LocalReloaded(_log, entry.Tag, local.ResolvConfPath, nameservers);
        else DnsLog.LocalReloadFailed(_log, entry.Tag, nameservers, problem!);
    }

    /// <summary>A server named by host resolved through a server named by host … must end at an address.</summary>
    private static void CheckResolverChains(List<DnsServerOptions> servers, int engine)
    {
        for (int i = 0; i < servers.Count; i++)
        {
            var seen = new HashSet<int>();
            int current = i;
            while (servers[current] is RemoteDnsServerOptions remote && !NetAddress.TryParse(remote.Server, out _))
            {
                if (!seen.Add(current))
                    throw new ArgumentException($"dns.servers: {string.Join(" -> ", seen.Select(s => servers[s].Tag))} resolve each other's names in a loop; give one of them an IP address", nameof(servers));
                int next = remote.DomainResolver is { } tag ? servers.FindIndex(s => s.Tag == tag) : engine;
                if (next < 0) throw new ArgumentException($"dns.servers[{current}].domain_resolver: no DNS server has tag \"{remote.DomainResolver}\"", nameof(servers));
                if (servers[next] is FakeIpDnsServerOptions) throw new ArgumentException($"dns.servers[{current}]: a fakeip server cannot resolve a server's name", nameof(servers));
                current = next;
            }
        }
    }

    /// <summary>
    /// Answers one DNS message (a UDP payload, or a TCP message without its length prefix) into
    /// <paramref name="response"/>; returns the length, or 0 to send nothing. <paramref name="maxUdpSize"/>
    /// &gt; 0 means the query came over UDP: answers longer than the client's EDNS size (512 without EDNS),
    /// capped at maxUdpSize, are truncated with TC. Never throws. <paramref name="query"/> must stay
    /// unchanged until the returned task completes.
    /// </summary>
    public ValueTask<int> HandleAsync(ReadOnlyMemory<byte> query, Memory<byte> response, DnsQuerier querier, int maxUdpSize, CancellationToken ct) =>
        HandleGuarded(query, response, querier, maxUdpSize, atOnceOnly: false, ct);

    private ValueTask<int> HandleGuarded(ReadOnlyMemory<byte> query, Memory<byte> response, DnsQuerier querier, int maxUdpSize, bool atOnceOnly, CancellationToken ct)
    {
        try
        {
            var result = Handle(query, response, querier, maxUdpSize, atOnceOnly, ct);
            if (!IsNeedsUpstream(result)) Statistics.Query(); // a query is counted by the pass that answers or asks
            return result;
        }
        catch (Exception e)
        {
            Statistics.Query();
            DnsLog.InternalError(_log, e);
            return new ValueTask<int>(ServFailOrNothing(query.Span, response.Span));
        }
    }

    private ValueTask<int> Handle(ReadOnlyMemory<byte> query, Memory<byte> response, DnsQuerier querier, int maxUdpSize, bool atOnceOnly, CancellationToken ct)
    {
        var q = query.Span;
        var r = response.Span;
        Span<byte> name = stackalloc byte[DnsName.MaxWireLength];
        var verdict = DnsQuery.Parse(q, name, out var parsed, out int nameLength);
        switch (verdict)
        {
            case QueryVerdict.Drop:
                Statistics.Drop();
                return new ValueTask<int>(0);
            case QueryVerdict.FormErr:
                return new ValueTask<int>(DnsResponse.WriteEmpty(q, parsed, r, DnsRcode.FormErr));
            case QueryVerdict.NotImp:
                return new ValueTask<int>(DnsResponse.WriteEmpty(q, parsed, r, DnsRcode.NotImp));
        }
        var nameWire = name[..nameLength];
        int limit = maxUdpSize > 0 ? Math.Min(Math.Min(parsed.HasOpt ? parsed.UdpSize : 512, maxUdpSize), r.Length) : r.Length;

        Span<char> text = stackalloc char[DnsName.MaxTextLength];
        var domain = text[..DnsName.ToText(nameWire, text)];
        var context = new DnsQueryContext(domain, parsed.Type, querier);
        var decision = Decide(ref context, 0, out int ruleIndex);
        var result = context.AnswerPending
            ? atOnceOnly ? NeedsUpstream : AnswerByAddressFilterAsync(query, response, parsed, limit, domain.ToString(), nameWire.ToArray(), context.Snapshot(), ruleIndex, ct)
            : Respond(decision, query, response, parsed, nameWire, domain, limit, atOnceOnly, ct);
        if (_log.IsEnabled(LogLevel.Debug) && !IsNeedsUpstream(result)) DnsLog.Query(_log, querier.Inbound, domain.ToString(), parsed.Type, decision.Description);
        return result;
    }

    /// <summary>Stages 3–5 for the decision made: answer at once, from the cache, or from the decision's server.</summary>
    private ValueTask<int> Respond(Decision decision, ReadOnlyMemory<byte> query, Memory<byte> response, in DnsQuery parsed, ReadOnlySpan<byte> nameWire,
        ReadOnlySpan<char> domain, int limit, bool atOnceOnly, CancellationToken ct)
    {
        var q = query.Span;
        var r = response.Span;
        int nameLength = nameWire.Length;
        switch (decision.Kind)
        {
            case DecisionKind.Drop:
                Statistics.Drop();
                return new ValueTask<int>(0);
            case DecisionKind.Reject:
                return new ValueTask<int>(DnsResponse.WriteEmpty(q, parsed, r, DnsRcode.Refused));
            case DecisionKind.Predefined:
                return new ValueTask<int>(DnsResponse.WriteRecords(q, parsed, r, limit, decision.Rcode, decision.AnswerCount, decision.NsCount, decision.ExtraCount, decision.Records));
        }

        if ((parsed.Type == DnsType.AAAA && decision.Strategy == DnsStrategy.Ipv4Only) || (parsed.Type == DnsType.A && decision.Strategy == DnsStrategy.Ipv6Only))
            return new ValueTask<int>(DnsResponse.WriteEmpty(q, parsed, r, DnsRcode.NoError));

        var server = _servers[decision.Server];
        switch (server.Kind)
        {
            case ServerKind.FakeIp:
                return new ValueTask<int>(AnswerFake(server, q, parsed, domain, r, limit, decision.RewriteTtl ?? FakeIpTtl));
            case ServerKind.Hosts:
                return new ValueTask<int>(AnswerHosts(server, q, parsed, domain, r, limit, decision.RewriteTtl ?? HostsTtl));
        }

        var subnet = decision.ClientSubnet ?? server.ClientSubnet;
        Span<byte> key = stackalloc byte[CacheKeyLength(nameLength, subnet)];
        int keyLength = CacheKey(nameWire, parsed.Type, server.Index, subnet, key);
        key = key[..keyLength];
        bool useCache = _cache is not null && !decision.DisableCache;
        if (useCache && _cache!.TryGet(key, out var cached, out uint elapsed))
        {
            Statistics.CacheHit();
            if (_reverseMapping) Remember(cached);
            return new ValueTask<int>(DnsResponse.WriteAnswer(q, parsed, cached, elapsed, r, limit, decision.RewriteTtl));
        }
        if (atOnceOnly) return NeedsUpstream;
        var fetch = GetOrFetch(key.ToArray(), server, nameWire.ToArray(), parsed.Type, useCache, subnet);
        return CompleteAsync(fetch, query, parsed, response, limit, decision.RewriteTtl, ct);
    }

    private async ValueTask<int> CompleteAsync(Task<DnsAnswer?> fetch, ReadOnlyMemory<byte> query, DnsQuery parsed, Memory<byte> response, int limit,
        uint? rewriteTtl, CancellationToken ct)
    {
        try
        {
            var answer = await fetch.WaitAsync(ct);
            return answer is null
                ? DnsResponse.WriteEmpty(query.Span, parsed, response.Span, DnsRcode.ServFail)
                : DnsResponse.WriteAnswer(query.Span, parsed, answer, ElapsedSeconds(answer), response.Span, limit, rewriteTtl);
        }
        catch (OperationCanceledException)
        {
            return 0; // the caller gave up (engine stopping); nobody is waiting for an answer
        }
        catch (Exception e)
        {
            DnsLog.InternalError(_log, e);
            return ServFailOrNothing(query.Span, response.Span);
        }
    }

    /// <summary>
    /// The first rule from <paramref name="start"/> that matches (its index in <paramref name="ruleIndex"/>, -1 for
    /// final). A rule that matched only pending its answer (<see cref="DnsQueryContext.AnswerPending"/>) is taken only
    /// for A/AAAA queries routed to an upstream server the strategy lets ask; otherwise it is passed over, as sing-box
    /// passes address-filter rules over for other queries.
    /// </summary>
    private Decision Decide(ref DnsQueryContext context, int start, out int ruleIndex)
    {
        for (int i = start; i < _rules.Length; i++)
        {
            var (rule, decision) = _rules[i];
            context.AnswerPending = false;
            if (!rule.Matches(ref context)) continue;
            if (context.AnswerPending && !CanFilterAnswer(decision, context.Type)) continue;
            ruleIndex = i;
            return decision;
        }
        context.AnswerPending = false;
        ruleIndex = -1;
        return _final;
    }

    private int AnswerFake(ServerEntry server, ReadOnlySpan<byte> q, in DnsQuery parsed, ReadOnlySpan<char> domain, Span<byte> r, int limit, uint ttl)
    {
        var pool = parsed.Type switch { DnsType.A => server.FakeV4, DnsType.AAAA => server.FakeV6, _ => null };
        if (pool is null || domain.IsEmpty) return DnsResponse.WriteEmpty(q, parsed, r, DnsRcode.NoError);
        ReadOnlySpan<NetAddress> address = [pool.Allocate(domain)];
        return DnsResponse.WriteAddresses(q, parsed, r, limit, address, ttl);
    }

    private int AnswerHosts(ServerEntry server, ReadOnlySpan<byte> q, in DnsQuery parsed, ReadOnlySpan<char> domain, Span<byte> r, int limit, uint ttl)
    {
        if (!server.Hosts!.TryGet(domain, out var addresses)) return DnsResponse.WriteEmpty(q, parsed, r, DnsRcode.NxDomain);
        if (parsed.Type is not (DnsType.A or DnsType.AAAA)) return DnsResponse.WriteEmpty(q, parsed, r, DnsRcode.NoError);
        if (_reverseMapping)
        {
            foreach (var a in addresses) _map.Remember(a, domain);
        }
        return DnsResponse.WriteAddresses(q, parsed, r, limit, addresses, ttl);
    }

    private static int CacheKeyLength(int nameLength, Tun.IpPrefix? subnet) => nameLength + 4 + (subnet is null ? 0 : 17);

    /// <summary>
    /// Lowercased name, type, server index, and the client subnet sent: answers are never shared between
    /// servers, nor between subnets (an ECS-aware upstream answers each subnet for itself).
    /// </summary>
    /// <summary>The cache key as an array, for the paths that keep it beyond the call (an upstream exchange).</summary>
    private static byte[] CacheKeyOf(ReadOnlySpan<byte> nameWire, ushort type, int server, Tun.IpPrefix? subnet)
    {
        byte[] key = new byte[CacheKeyLength(nameWire.Length, subnet)];
        CacheKey(nameWire, type, server, subnet, key);
        return key;
    }

    private static int CacheKey(ReadOnlySpan<byte> nameWire, ushort type, int server, Tun.IpPrefix? subnet, Span<byte> key)
    {
        nameWire.CopyTo(key);
        int n = nameWire.Length;
        key[n++] = (byte)(type >> 8);
        key[n++] = (byte)type;
        key[n++] = (byte)(server >> 8);
        key[n++] = (byte)server;
        if (subnet is { } s)
        {
            key[n++] = (byte)s.Length;
            key.Slice(n, 16).Clear();
            s.Network.WriteTo(key.Slice(n, 16));
            n += 16;
        }
        return n;
    }

    private uint ElapsedSeconds(DnsAnswer answer) =>
        (uint)Math.Max(0, (_time.GetTimestamp() - answer.StoredAt) / _time.TimestampFrequency);

    private void Remember(DnsAnswer answer)
    {
        foreach (var address in answer.Addresses) _map.Remember(address, answer.Domain);
    }

    /// <summary>SERVFAIL echoing whatever of the query can be trusted, or nothing when even the header is missing.</summary>
    private static int ServFailOrNothing(ReadOnlySpan<byte> query, Span<byte> response)
    {
        if (query.Length < DnsWire.HeaderLength || response.Length < DnsWire.HeaderLength) return 0;
        if ((DnsWire.Flags(query) & DnsWire.FlagQr) != 0) return 0;
        var header = new DnsQuery(DnsWire.Id(query), DnsWire.Flags(query), DnsWire.HeaderLength, 0, 0, false, 512);
        return DnsResponse.WriteEmpty(query, header, response, DnsRcode.ServFail);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        await _stopping.CancelAsync();
        foreach (var w in _watches) w.Dispose();
        foreach (var s in _servers)
        {
            if (s.Transport is { } t) await t.DisposeAsync();
        }
    }
}

/// <summary>
/// Where the host keeps its resolver settings, from the platform (Linux: /etc/resolv.conf and /etc/hosts);
/// tests point these at their own files and ports.
/// </summary>
/// <param name="ResolvConfPath">The nameservers of a <c>local</c> DNS server.</param>
/// <param name="NameserverPort">Their port (53 on a host).</param>
/// <param name="HostsPaths">The hosts files of a <c>hosts</c> server that names neither <c>path</c> nor <c>predefined</c>.</param>
public sealed record DnsEnvironment(string ResolvConfPath, ushort NameserverPort, IReadOnlyList<string> HostsPaths)
{
    /// <summary>A host without resolver files (an embedded engine, a test): <c>local</c> finds no nameservers, <c>hosts</c> no file.</summary>
    public static DnsEnvironment None { get; } = new("", 53, []);
}

/// <summary>An engine lookup found no address. The message names the host and why.</summary>
public sealed class DnsLookupException(string message) : Exception(message);
