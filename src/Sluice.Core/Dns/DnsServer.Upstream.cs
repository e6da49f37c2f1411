using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>Upstream exchanges: coalescing, timeouts, checking answers, and the engine's own lookups.</summary>
public sealed partial class DnsServer
{
    /// <summary>
    /// The one exchange in flight for this question and server, starting it if there is none. The
    /// exchange is bounded by the server timeout, not by any one client: a client that gives up does
    /// not cancel it for the others.
    /// </summary>
    private Task<DnsAnswer?> GetOrFetch(byte[] key, ServerEntry server, byte[] nameWire, ushort type, bool store, Tun.IpPrefix? subnet)
    {
        TaskCompletionSource<DnsAnswer?> owner;
        lock (_inflight)
        {
            if (_inflight.TryGetValue(key, out var running))
            {
                Statistics.Coalesce();
                return running;
            }
            owner = new TaskCompletionSource<DnsAnswer?>(TaskCreationOptions.RunContinuationsAsynchronously);
            _inflight[key] = owner.Task;
        }
        _ = FetchAndPublishAsync(owner, key, server, nameWire, type, store, subnet);
        return owner.Task;
    }

    private async Task FetchAndPublishAsync(TaskCompletionSource<DnsAnswer?> owner, byte[] key, ServerEntry server, byte[] nameWire, ushort type, bool store, Tun.IpPrefix? subnet)
    {
        DnsAnswer? answer = null;
        try
        {
            answer = await FetchAsync(server, nameWire, type, subnet);
            if (answer is not null && store) _cache?.Store(key, answer);
        }
        catch (Exception e)
        {
            DnsLog.InternalError(_log, e);
        }
        finally
        {
            lock (_inflight) _inflight.Remove(key);
            owner.SetResult(answer);
        }
    }

    private async Task<DnsAnswer?> FetchAsync(ServerEntry server, byte[] nameWire, ushort type, Tun.IpPrefix? subnet)
    {
        Statistics.Upstream(server.Index);
        byte[] query = BuildUpstreamQuery(server.Transport!.ZeroId, nameWire, type, subnet, out int n);

        byte[] buffer = ArrayPool<byte>.Shared.Rent(DnsWire.MaxMessage);
        using var timeout = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _stopping.Token);
        try
        {
            int length = await server.Transport.ExchangeAsync(query, buffer.AsMemory(0, DnsWire.MaxMessage), linked.Token);
            var answer = ParseAnswer(buffer.AsSpan(0, length), query.AsSpan(0, n + DnsWire.QuestionFixed), nameWire, _time.GetTimestamp(), out string? problem);
            if (answer is null)
            {
                Statistics.Failure();
                DnsLog.MalformedAnswer(_log, server.Tag, DnsName.ToText(nameWire), length, problem!);
                return null;
            }
            if (_reverseMapping) Remember(answer);
            return answer;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Statistics.Failure();
            DnsLog.UpstreamTimeout(_log, server.Tag, DnsName.ToText(nameWire), _timeout.TotalSeconds);
            return null;
        }
        catch (OperationCanceledException)
        {
            return null; // stopping
        }
        catch (Exception e)
        {
            Statistics.Failure();
            DnsLog.UpstreamFailed(_log, server.Tag, server.Address, DnsName.ToText(nameWire), e.Message);
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The query sent upstream: RD, one question, one OPT (with the client subnet option when set).
    /// <paramref name="questionEnd"/> is the offset where the question's name ends.
    /// </summary>
    internal static byte[] BuildUpstreamQuery(bool zeroId, ReadOnlySpan<byte> nameWire, ushort type, Tun.IpPrefix? subnet, out int questionEnd)
    {
        byte[] query = new byte[DnsWire.HeaderLength + nameWire.Length + DnsWire.QuestionFixed + DnsWire.OptLengthFor(subnet)];
        ushort id = zeroId ? (ushort)0 : BinaryPrimitives.ReadUInt16LittleEndian(RandomNumberGenerator.GetBytes(2));
        DnsWire.WriteHeader(query, id, DnsWire.FlagRd, 1, 0, 0, 1);
        nameWire.CopyTo(query.AsSpan(DnsWire.HeaderLength));
        int n = DnsWire.HeaderLength + nameWire.Length;
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(n), type);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(n + 2), DnsWire.ClassIn);
        DnsWire.WriteOpt(query.AsSpan(n + DnsWire.QuestionFixed), subnet);
        questionEnd = n;
        return query;
    }

    /// <summary>
    /// Accepts an upstream answer only if it answers exactly what was asked: QR, same ID, opcode 0,
    /// one question equal to ours (uncompressed, any letter case), and every record inside the message.
    /// Keeps header + question + answer + authority (the additional section, OPT included, is
    /// dropped: Sluice writes its own OPT).
    /// </summary>
    internal static DnsAnswer? ParseAnswer(ReadOnlySpan<byte> m, ReadOnlySpan<byte> question, ReadOnlySpan<byte> nameWire, long now, out string? problem)
    {
        problem = null;
        if (m.Length < DnsWire.HeaderLength) return Fail("shorter than a DNS header", out problem);
        ushort flags = DnsWire.Flags(m);
        if ((flags & DnsWire.FlagQr) == 0 || (flags & DnsWire.OpcodeMask) != 0) return Fail("not a response to a standard query", out problem);
        if (DnsWire.Id(m) != DnsWire.Id(question)) return Fail("ID does not match the query", out problem);
        if (DnsWire.Count(m, 0) != 1) return Fail("not exactly one question", out problem);
        int questionEnd = question.Length;
        if (m.Length < questionEnd || !DnsName.EqualsIgnoreCase(m[DnsWire.HeaderLength..questionEnd], question[DnsWire.HeaderLength..]))
            return Fail("the question is not the one asked", out problem);

        var cursor = new DnsRecordCursor(m, questionEnd);
        int cut = questionEnd;
        int ttlCount = 0;
        Span<int> ttlOffsets = stackalloc int[256];
        List<int>? moreOffsets = null;
        uint minAnswerTtl = uint.MaxValue;
        uint negativeTtl = 0;
        var addresses = new List<NetAddress>();
        while (cursor.TryNext(out var r))
        {
            if (r.Section == 3) continue;
            cut = r.End;
            if (ttlCount < ttlOffsets.Length) ttlOffsets[ttlCount++] = r.TtlOffset;
            else (moreOffsets ??= []).Add(r.TtlOffset);
            uint ttl = r.Ttl > int.MaxValue ? 0 : r.Ttl; // RFC 2181 8: a TTL with the top bit set means 0
            if (r.Section == 1)
            {
                minAnswerTtl = Math.Min(minAnswerTtl, ttl);
                if (r.Class == DnsWire.ClassIn && ((r.Type == DnsType.A && r.DataLength == 4) || (r.Type == DnsType.AAAA && r.DataLength == 16)))
                    addresses.Add(NetAddress.FromBytes(m.Slice(r.DataOffset, r.DataLength)));
            }
            else if (r.Type == DnsType.SOA && r.DataLength >= 20)
            {
                uint minimum = BinaryPrimitives.ReadUInt32BigEndian(m[(r.End - 4)..]);
                negativeTtl = Math.Min(ttl, minimum > int.MaxValue ? 0 : minimum);
            }
        }
        if (cursor.Malformed) return Fail("a record runs past the end or has a bad name", out problem);

        var rcode = (DnsRcode)(flags & DnsWire.RcodeMask);
        bool positive = rcode == DnsRcode.NoError && DnsWire.Count(m, 1) > 0;
        uint cacheTtl = positive ? minAnswerTtl : rcode is DnsRcode.NoError or DnsRcode.NxDomain ? negativeTtl : 0;
        byte[] message = m[..cut].ToArray();
        DnsWire.SetId(message, 0);
        DnsWire.SetCount(message, 3, 0);
        int[] offsets = new int[ttlCount + (moreOffsets?.Count ?? 0)];
        ttlOffsets[..ttlCount].CopyTo(offsets);
        moreOffsets?.CopyTo(offsets, ttlCount);
        return new DnsAnswer(message, questionEnd, offsets, cacheTtl, now, addresses.ToArray(), DnsName.ToText(nameWire));

        static DnsAnswer? Fail(string why, out string? problem)
        {
            problem = why;
            return null;
        }
    }

    /// <summary>
    /// The engine's own lookups (a WireGuard peer's or proxy server's host): through
    /// route.default_domain_resolver, else the first local server, else the host's resolvers, on the
    /// direct lane unless that server has a detour. Addresses ordered by the strategy.
    /// Throws <see cref="DnsLookupException"/> when there is no address.
    /// </summary>
    public ValueTask<IReadOnlyList<IPAddress>> ResolveForEngineAsync(string host, CancellationToken ct) =>
        ResolveWithAsync(_engineServer, host, ct);

    internal async ValueTask<IReadOnlyList<IPAddress>> ResolveWithAsync(int serverIndex, string host, CancellationToken ct) =>
        (await ResolveWithTtlAsync(serverIndex, host, ct)).Addresses;

    /// <summary>Forgets every cached answer (the dashboards' "flush DNS cache"); the next query of each name asks its server.</summary>
    public void FlushCache() => _cache?.Clear();

    /// <summary>Empties every fakeip server's pool (and so the saved store at its next save); returns the names dropped.</summary>
    public int FlushFakeIps()
    {
        int dropped = 0;
        foreach (var server in _servers)
        {
            dropped += server.FakeV4?.Clear() ?? 0;
            dropped += server.FakeV6?.Clear() ?? 0;
        }
        return dropped;
    }

    public DnsStrategy? DefaultStrategy => _defaultStrategy;

    public bool Covers(string? resolverTag) => resolverTag is null ? _hasDefaultResolver : Array.Exists(_servers, s => s.Tag == resolverTag);

    /// <summary>
    /// A proxy server's name through <paramref name="resolverTag"/> (null: route.default_domain_resolver),
    /// with the remaining TTL so the caller keeps it that long.
    /// </summary>
    public async ValueTask<ResolvedHost> ResolveAsync(string? resolverTag, string host, CancellationToken cancellationToken)
    {
        int index = resolverTag is null ? _engineServer : Array.FindIndex(_servers, s => s.Tag == resolverTag);
        if (index < 0) throw new DnsLookupException($"no DNS server has tag \"{resolverTag}\"");
        return await ResolveWithTtlAsync(index, host, cancellationToken);
    }

    /// <summary>
    /// A resolve rule's lookup of a flow's name: through <paramref name="serverTag"/> (null: the engine's own
    /// server, as <see cref="ResolveForEngineAsync"/>) with <paramref name="strategy"/> (null: dns.strategy).
    /// Empty when there is no address (the reason is logged), so the rules after it see a name with no address.
    /// </summary>
    public async ValueTask<IReadOnlyList<NetAddress>> ResolveForRuleAsync(string? serverTag, string host, DnsStrategy? strategy, CancellationToken ct)
    {
        int index = serverTag is null ? _engineServer : Array.FindIndex(_servers, s => s.Tag == serverTag);
        if (index < 0) return [];
        try
        {
            var found = await ResolveWithTtlAsync(index, host, ct, strategy);
            return found.Addresses.Select(NetAddress.FromIPAddress).ToArray();
        }
        catch (DnsLookupException e)
        {
            LogResolveRuleFailed(_log, host, e.Message);
            return [];
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "resolve rule: {Host} has no address: {Reason}")]
    private static partial void LogResolveRuleFailed(ILogger logger, string host, string reason);

    private async ValueTask<ResolvedHost> ResolveWithTtlAsync(int serverIndex, string host, CancellationToken ct, DnsStrategy? strategy = null)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal)) return new ResolvedHost([literal], TimeSpan.MaxValue);
        byte[] wire = DnsName.Encode(host) ?? throw new DnsLookupException($"\"{host}\" is not a host name");
        var server = _servers[serverIndex];
        ushort[] types = (strategy ?? _strategy) switch
        {
            DnsStrategy.Ipv4Only => [DnsType.A],
            DnsStrategy.Ipv6Only => [DnsType.AAAA],
            DnsStrategy.PreferIpv6 => [DnsType.AAAA, DnsType.A],
            _ => [DnsType.A, DnsType.AAAA],
        };
        var lookups = types.Select(t => LookupAsync(server, wire, t, ct).AsTask()).ToArray();
        var results = await Task.WhenAll(lookups);
        var addresses = results.SelectMany(r => r.Addresses).Select(a => a.ToIPAddress()).ToList();
        if (addresses.Count > 0)
            return new ResolvedHost(addresses, TimeSpan.FromSeconds(results.Where(r => r.Addresses.Length > 0).Min(r => r.Ttl)));
        string why = string.Join(", ", types.Zip(results, (t, r) => $"{(t == DnsType.A ? "A" : "AAAA")}: {r.Why}"));
        throw new DnsLookupException($"cannot resolve {host} with DNS server {server.Tag} ({why})");
    }

    /// <summary>Addresses of one type, the seconds they may still be kept, or why there are none.</summary>
    private async ValueTask<(NetAddress[] Addresses, uint Ttl, string Why)> LookupAsync(ServerEntry server, byte[] wire, ushort type, CancellationToken ct)
    {
        switch (server.Kind)
        {
            case ServerKind.Hosts:
                string name = DnsName.ToText(wire);
                if (!server.Hosts!.TryGet(name, out var known)) return ([], 0, "not in hosts");
                return (known.Where(a => a.IsV4 == (type == DnsType.A)).ToArray(), HostsTtl, "no address of this family in hosts");
            case ServerKind.FakeIp:
                return ([], 0, "a fakeip server has no real addresses");
        }
        byte[] key = CacheKeyOf(wire, type, server.Index, server.ClientSubnet);
        if (_cache is not null && _cache.TryGet(key, out var cached, out _))
            return (cached.Addresses, cached.Ttl - Math.Min(cached.Ttl, ElapsedSeconds(cached)), Describe(cached));
        var answer = await GetOrFetch(key, server, wire, type, store: true, server.ClientSubnet).WaitAsync(ct);
        return answer is null ? ([], 0, "no answer (timeout or failure, see the log)") : (answer.Addresses, answer.Ttl, Describe(answer));

        static string Describe(DnsAnswer a) => a.Addresses.Length > 0 ? "ok" : a.Rcode == DnsRcode.NoError ? "no records" : a.Rcode.ToString().ToUpperInvariant();
    }

    internal enum ServerKind { Upstream, FakeIp, Hosts }

    /// <summary>One configured server, ready to answer.</summary>
    internal sealed class ServerEntry
    {
        public required int Index { get; init; }
        public required string Tag { get; init; }
        public required ServerKind Kind { get; init; }
        /// <summary>For logs; a local server's changes when resolv.conf is reloaded.</summary>
        public required string Address { get; set; }
        public IDnsTransport? Transport { get; init; }
        public FakeIpPool? FakeV4 { get; init; }
        public FakeIpPool? FakeV6 { get; init; }
        public HostsTable? Hosts { get; init; }

        /// <summary>The server's client_subnet, else dns.client_subnet; a rule's client_subnet overrides it.</summary>
        public Tun.IpPrefix? ClientSubnet { get; set; }

        public static ServerEntry Create(int index, DnsServerOptions o, int resolverIndex, DnsOptions options, DnsEnvironment environment,
            IOutbound direct, Func<string?, IOutbound> resolveDetour, ILogger log,
            Func<int, string, CancellationToken, ValueTask<IReadOnlyList<IPAddress>>> resolveWith)
        {
            switch (o)
            {
                case FakeIpDnsServerOptions f:
                    return new ServerEntry
                    {
                        Index = index, Tag = f.Tag, Kind = ServerKind.FakeIp, Address = "fakeip",
                        FakeV4 = f.Inet4Range is { } v4 ? new FakeIpPool(v4) : null,
                        FakeV6 = f.Inet6Range is { } v6 ? new FakeIpPool(v6) : null,
                    };
                case HostsDnsServerOptions h:
                    return new ServerEntry { Index = index, Tag = h.Tag, Kind = ServerKind.Hosts, Address = "hosts", Hosts = new HostsTable(h.Paths.Count == 0 && h.Predefined.Count == 0 ? h with { Paths = environment.HostsPaths } : h, log) };
                case LocalDnsServerOptions l:
                    var local = new LocalTransport(environment.ResolvConfPath, nameservers => nameservers
                        .Select(ip => (IDnsTransport)new UdpTransport(new UpstreamAddress(ip.ToString(), environment.NameserverPort, NoResolve), () => direct, null,
                            options.Timeout / (2 * nameservers.Count)))
                        .ToArray(), options.Timeout);
                    string list = string.Join(", ", local.Nameservers);
                    if (!l.Tag.StartsWith(BootstrapTag, StringComparison.Ordinal)) DnsLog.LocalNameservers(log, l.Tag, list, environment.ResolvConfPath);
                    return new ServerEntry { Index = index, Tag = l.Tag, Kind = ServerKind.Upstream, Address = list, Transport = local };
                case RemoteDnsServerOptions r:
                    IOutbound? resolved = null;
                    Func<IOutbound> outbound = r.Detour is { } detour ? () => resolved ??= resolveDetour(detour) : () => direct;
                    var address = new UpstreamAddress(r.Server, r.Port, (host, ct) => resolveWith(resolverIndex, host, ct));
                    string targetHost = r.Tls?.ServerName ?? r.Server;
                    IDnsTransport transport = r.Type switch
                    {
                        "udp" => new UdpTransport(address, outbound, new StreamTransport(StreamTransport.Tcp(address, outbound)), options.Timeout / 2),
                        "tcp" => new StreamTransport(StreamTransport.Tcp(address, outbound)),
                        "tls" => new StreamTransport(StreamTransport.Tls(address, outbound, TlsOptions.Create(r.Tls, targetHost, "dot"))),
                        "https" => new HttpsTransport(address, r.Path ?? "/dns-query", outbound, r.Tls),
                        _ => throw new ArgumentException($"unknown DNS server type \"{r.Type}\"", nameof(o)),
                    };
                    return new ServerEntry { Index = index, Tag = r.Tag, Kind = ServerKind.Upstream, Address = $"{r.Type}://{address}", Transport = transport };
                default:
                    throw new ArgumentException($"unknown DNS server options {o.GetType().Name}", nameof(o));
            }
        }

        private static ValueTask<IReadOnlyList<IPAddress>> NoResolve(string host, CancellationToken ct) =>
            throw new DnsUpstreamException($"{host} is not an address");
    }
}
