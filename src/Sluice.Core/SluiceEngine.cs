using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Routing;
using Sluice.Core.RuleSets;
using Sluice.Core.Stack;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core;

/// <summary>What the engine needs from the operating system; Platform projects provide it.</summary>
/// <param name="OpenTun">Creates (or adopts) and configures the TUN device for the tun inbound.</param>
/// <param name="Routes">auto_route; null when the host owns routing (embedding).</param>
/// <param name="Sockets">Builds a socket factory that marks sockets with the given fwmark.</param>
/// <param name="Processes">Process lookup; null where the platform has none.</param>
public sealed record EnginePlatform(
    Func<TunInboundOptions, ITunDevice> OpenTun,
    IRouteTable? Routes,
    Func<uint, ISocketFactory> Sockets,
    IProcessLookup? Processes)
{
    /// <summary>Where the host keeps its resolver settings (resolv.conf, hosts files); none by default (an embedded engine).</summary>
    public Dns.DnsEnvironment DnsFiles { get; init; } = Dns.DnsEnvironment.None;

    /// <summary>
    /// Opens what tells when watched files (resolv.conf, hosts, local rule sets) change, one per engine run; null, or
    /// an <see cref="IOException"/> from it (logged), and they are polled every 2 s.
    /// </summary>
    public Func<Dns.IFileChangeNotifier>? FileChanges { get; init; }

    /// <summary>
    /// The WireGuard transport AEAD; null: the runtime's ChaCha20Poly1305. Linux gives one that calls libcrypto without
    /// the runtime's per-call wrapping (error-queue clearing, handle reference counts, an exception per forged packet).
    /// </summary>
    public Outbounds.WireGuard.PacketCipherFactory? PacketCiphers { get; init; }

    /// <summary>The own TLS client's key-share X25519; null: BouncyCastle's managed one. Linux gives libcrypto's.</summary>
    public Outbounds.Tls.IX25519? X25519 { get; init; }

    /// <summary>The clock of every timer and sweep of the engine; a test passes a fake one.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Gives the native allocator's free pages back to the OS after a burst of flows (<see cref="MemoryTrimmer"/>); null: only the GC's are.</summary>
    public Action? TrimNativeMemory { get; init; }
}

/// <summary>
/// The engine: one TUN inbound, the router and the outbounds, started as ordered stages (<see cref="EngineStages"/>):
/// 1. DNS, rules and outbounds, then the local inbounds;
/// 2. remove what a killed earlier run left (rules, routes); open the TUN, the data path's stages, the relay listeners;
/// 3. start the packet thread, then install auto_route so traffic only arrives once it is served.
/// Stop runs the same stages backwards and removes everything they added.
/// </summary>
public sealed partial class SluiceEngine : IDisposable
{
    private SluiceConfig _config;
    private readonly EngineLimits _limits;
    private readonly Stack.RelayBuffers _relayBuffers; // one budget for the TUN's relays and the mixed inbounds
    private readonly TimeProvider _time;
    private readonly EnginePlatform _platform;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _logs;
    private readonly EngineStages _stages;
    // Replaced whole by a reload; readers take the current dictionary once.
    private volatile Dictionary<string, IOutbound> _outbounds = new(StringComparer.Ordinal);
    private ITunDevice? _tun;
    private PacketLoop? _loop;
    private L3Lanes? _l3;
    private LaneSelector? _lanes;
    private RuleScope? _scope;
    private OutboundContext? _context;
    private TcpRelay? _relay4;
    private TcpRelay? _relay6;
    private TcpNat? _nat4;
    private TcpNat? _nat6;
    private UdpSessions? _udp;
    private OwnerLookups? _owners;
    private IcmpEchoRelay? _icmp4;
    private IcmpEchoRelay? _icmp6;
    private AutoRoutePlan? _routePlan;
    private Task? _staleRemoval;
    private ITimer? _sweeper;
    private readonly object _sweepLock = new();
    private long _sweepDue = long.MaxValue; // engine ms when the sweeper fires next; MaxValue = not armed
    private long _lastTraffic = long.MinValue; // engine ms of the latest TUN batch
    private Dns.IFileChangeNotifier? _fileChanges;
    private Dns.DnsServer? _dnsServer;
    private DnsHijack? _dnsHijack;
    private Inbounds.LocalInbounds? _mixed;
    private FlowAdmission? _admission;
    private Inbounds.LocalInbounds? _dnsListeners;
    private global::Sluice.Core.Subscriptions.SubscriptionWatchers? _subscriptions;
    private RuleSetLibrary? _ruleSets;
    private State.CacheFile? _cache;
    private MemoryTrimmer? _trimmer;

    /// <param name="limits">Timeouts, table and buffer sizes of the data path; default <see cref="EngineLimits.Default"/>.</param>
    public SluiceEngine(SluiceConfig config, EnginePlatform platform, ILoggerFactory logs, EngineLimits? limits = null)
    {
        _config = config;
        _limits = limits ?? EngineLimits.Default;
        _relayBuffers = new Stack.RelayBuffers(_limits);
        _time = platform.Time;
        _platform = platform;
        Connections = new ConnectionRegistry(platform.Time);
        _logs = logs;
        _logger = logs.CreateLogger("engine");
        _stages = new EngineStages(_logger);
    }

    /// <summary>The start's stages, in order; stopped in reverse.</summary>
    internal EngineStages Stages => _stages;

    /// <summary>The built-in DNS server (null before start).</summary>
    public Dns.DnsServer? DnsServer => _dnsServer;

    /// <summary>The outbounds and endpoints by tag (WireGuard endpoints expose their peers' state).</summary>
    public IReadOnlyDictionary<string, IOutbound> Outbounds => _outbounds;

    /// <summary>Every live flow with its lane, process and byte counters.</summary>
    public ConnectionRegistry Connections { get; }

    /// <summary>The Clash mode clash_mode items match; switch it with <see cref="ClashModeState.TrySet"/>.</summary>
    public ClashModeState Mode { get; private set; } = new("rule");

    /// <summary>The route.rule_set entries by tag (empty before start).</summary>
    public IReadOnlyDictionary<string, RuleSetHandle> RuleSetHandles => _ruleSets?.Handles ?? new Dictionary<string, RuleSetHandle>();

    /// <summary>Each route rule's switch and decisions so far, in config order (empty before start; a reload starts them afresh).</summary>
    public IReadOnlyList<RuleState> RuleStates()
    {
        if (_lanes?.Model.Router is not { } router) return [];
        var states = new RuleState[router.Count];
        for (int i = 0; i < states.Length; i++) states[i] = router.StateOf(i);
        return states;
    }

    /// <summary>Route rules of the running config (0 before start).</summary>
    public int RuleCount => _lanes?.Model.Router.Count ?? 0;

    /// <summary>Switches route rule <paramref name="index"/> off or on for new flows until the next reload; false when there is no such rule or no engine.</summary>
    public bool SetRuleEnabled(int index, bool enabled) => _lanes?.Model.Router.SetEnabled(index, enabled) ?? false;

    /// <summary>The config's rule sets (for the Clash API's rule providers); null before the engine started them.</summary>
    public RuleSetLibrary? RuleSets => _ruleSets;

    public uint FwMark => _config.Route.DefaultMark ?? ConfigDefaults.FwMark;

    /// <summary>The data path's limits this engine runs with (docs/config.md#limits).</summary>
    public EngineLimits Limits => _limits;

    public string? TunName => _tun?.Name;

    public void Start()
    {
        if (_config.TunInbounds.Count == 0 && _config.MixedInbounds.Count == 0 && _config.DirectInbounds.Count == 0)
            throw new InvalidOperationException("the config has no inbound: add {\"type\": \"tun\", \"address\": [\"172.19.0.1/30\"]} or {\"type\": \"mixed\", \"listen_port\": 2080} to \"inbounds\"");
        var tunOptions = _config.TunInbounds.Count > 0 ? _config.TunInbounds[0] : null;
        try
        {
            StartCore(tunOptions);
        }
        catch
        {
            Stop();
            throw;
        }
    }

    private Dns.IFileChangeNotifier? OpenFileChanges()
    {
        try
        {
            return _platform.FileChanges?.Invoke();
        }
        catch (IOException e)
        {
            LogFilesPolled(_logger, e.Message);
            return null;
        }
    }

    /// <summary>The start, stage by stage (<see cref="EngineStages"/>); <see cref="Stop"/> runs their stops in reverse.</summary>
    private void StartCore(TunInboundOptions? tunOptions)
    {
        var sockets = _platform.Sockets(FwMark);
        // sing-box: default_interface takes no effect when auto_detect_interface is set (then the fwmark follows the default route).
        if (_config.Route.DefaultInterface is { } device && !_config.Route.AutoDetectInterface) sockets = new EngineSockets(sockets, device);
        // The built-in DNS server always runs (without a "dns" section it forwards to the host's resolver);
        // its detours are the outbounds and endpoints by tag (looked up at first use), null = direct. It
        // comes first: proxy outbounds resolve their servers' names with it (domain_resolver).
        var directForDns = new Outbounds.Direct.DirectOutbound("dns-direct", DialOptions.Default, sockets);
        _stages.Start("dns-direct", () => { }, directForDns.Dispose);
        _stages.Start("memory trim", () => _trimmer = new MemoryTrimmer(Connections, _limits, _time, _platform.TrimNativeMemory,
            releasePools: () => _relayBuffers.Trim()),
            () => { _trimmer?.Dispose(); _trimmer = null; });
        // Rules compile against rule-set handles and the Clash mode; the sets are loaded once outbounds exist.
        _stages.Start("cache file", () =>
        {
            if (_config.Experimental.CacheFile is { } cacheOptions) _cache = State.CacheFile.Open(cacheOptions, _logs.CreateLogger("cache-file"), _time);
            Mode = EngineMode.Create(_config, _cache?.Mode);
            if (_cache is { } modeCache) Mode.Changed += modeCache.SetMode;
        }, () => { _cache?.Dispose(); _cache = null; });
        _stages.Start("rule sets", () => _ruleSets = RuleSetLibrary.For(_config), () => _ruleSets?.Dispose());
        var scope = _scope = new RuleScope(_ruleSets!.Handles, Mode);
        _stages.Start("file changes", () => _fileChanges = OpenFileChanges(), () => { _fileChanges?.Dispose(); _fileChanges = null; });
        _stages.Start("dns server", () =>
        {
            _dnsServer = Dns.DnsServer.Create(_config.Dns, tag => tag is null ? directForDns : _outbounds[tag], sockets, _logs, _time, _platform.DnsFiles, scope, _fileChanges);
            if (_cache is { } fakeCache && _config.Experimental.CacheFile!.StoreFakeIp)
                LogFakeIpRestored(_logger, State.FakeIpStore.Attach(fakeCache, _dnsServer, _time), fakeCache.Path);
        }, () => { _dnsServer?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(1)); _dnsServer = null; });
        // getaddrinfo's queries are not marked: with auto_route they would enter the engine's own TUN (and a fakeip server
        // could answer them with a fake address), so every host-name lookup of the engine (proxy servers, WireGuard peers,
        // subscriptions, named requests) goes through its DNS server's own sockets then. The DNS server itself never looks
        // up host names this way, so it keeps the sockets it was made with.
        var engineHosts = new EngineHostResolver(_dnsServer!, new Dns.HostsTable(
            new Dns.HostsDnsServerOptions("hosts-file", _platform.DnsFiles.HostsPaths, new Dictionary<string, IReadOnlyList<Packets.NetAddress>>()), _logs.CreateLogger("dns")));
        if (tunOptions?.AutoRoute == true) sockets = new EngineSockets(sockets, defaultInterface: null, engineHosts);
        var context = _context = new OutboundContext(sockets, _logs, tag => _outbounds.GetValueOrDefault(tag), _dnsServer!, _platform.X25519);
        _stages.Start("outbounds", () =>
        {
            foreach (var options in _config.Outbounds) _outbounds[options.Tag] = CreateOutbound(options, context);
            if (_cache is { } selectionCache) EngineMode.RememberSelections(_outbounds.Values, selectionCache);
        }, () =>
        {
            foreach (var outbound in _outbounds.Values) outbound.Dispose();
            _outbounds.Clear();
        });
        // Subscriptions fill their groups (from the cache now, then from each fetch) before any flow arrives.
        _stages.Start("subscriptions", () => _subscriptions = global::Sluice.Core.Subscriptions.SubscriptionWatchers.Start(_config.Subscriptions, _outbounds, context, _logs),
            () => { _subscriptions?.Dispose(); _subscriptions = null; });
        string defaultOutbound = _config.Route.Final ?? _config.Outbounds[0].Tag;
        Router? router = null;
        _stages.Start("rules", () =>
        {
            _ruleSets!.Load(tag => _outbounds[tag], defaultOutbound, _dnsServer!, EngineMode.RuleSetCacheDirectory(_config), _logs.CreateLogger("rule-set"), _time, _fileChanges);
            router = Router.Compile(_config.Route, _config.Outbounds.Select(o => o.Tag).ToList(), defaultOutbound, scope, _time);
        });
        var lanes = _lanes = new LaneSelector(router!, _outbounds, defaultOutbound, dnsServerRunning: true, _logs.CreateLogger("router"));
        if (_dnsServer is { } dnsForRules)
            lanes.Resolver = (name, action, ct) => dnsForRules.ResolveForRuleAsync(action.Server, name, action.Strategy, ct);
        var admission = _admission = new FlowAdmission(lanes, Connections, _logs.CreateLogger("route"));
        Func<FlowKey, ProcessInfo?>? lookup = _platform.Processes is { } processes ? processes.Find : null;
        var mixedLog = _logs.CreateLogger("mixed");
        // A proxy request's name (for outbounds that need an address): route.default_domain_resolver when set, else as the outbounds' names.
        var requestNames = _dnsServer!.Covers(resolverTag: null) ? engineHosts : sockets.Hosts;
        _stages.Start("mixed inbounds", () => _mixed = Inbounds.LocalInbounds.Start(_config.MixedInbounds,
            o => new Inbounds.Mixed.MixedInbound(o, admission, lookup, requestNames, sockets, _relayBuffers, mixedLog), mixedLog, "SOCKS + HTTP proxy"),
            () => { _mixed?.Dispose(); _mixed = null; });
        var dnsLog = _logs.CreateLogger("dns");
        _stages.Start("dns inbounds", () => _dnsListeners = Inbounds.LocalInbounds.Start(_config.DirectInbounds,
            o => new Inbounds.Direct.DirectInbound(o, _dnsServer!, lanes, lookup, dnsLog), dnsLog, "DNS"),
            () => { _dnsListeners?.Dispose(); _dnsListeners = null; });
        if (tunOptions is null)
        {
            LogStartedWithoutTun(_logger, string.Join(", ", new[] { _mixed!.Describe(), _dnsListeners!.Describe() }.Where(d => d.Length > 0)), FwMark);
            _trimmer?.AfterStart();
            return;
        }
        StartTun(tunOptions, sockets, admission, router!);
    }

    private IcmpEchoRelay? TryIcmp(ISocketFactory sockets, bool v4)
    {
        try
        {
            return new IcmpEchoRelay(_tun!, sockets, v4, _logs.CreateLogger("icmp"), _time, _limits.IcmpIdle);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            // Raw ICMP sockets need CAP_NET_RAW; without it echo requests are refused instead.
            LogNoIcmp(_logger, v4 ? "IPv4" : "IPv6", e.SocketErrorCode.ToString());
            return null;
        }
        catch (NotSupportedException e)
        {
            // A socket factory without ICMP sockets (a host that only protects sockets, a test's).
            LogNoIcmp(_logger, v4 ? "IPv4" : "IPv6", e.Message);
            return null;
        }
    }

    /// <summary>The second host address in the TUN prefix: the source the NAT gives steered segments.</summary>
    private static NetAddress NatPeer(IpPrefix prefix)
    {
        var value = prefix.Address.Value;
        var next = value + 1;
        Span<byte> bytes = stackalloc byte[16];
        if (prefix.IsV4)
        {
            var candidate = NetAddress.FromV4((uint)next);
            if (!prefix.Contains(candidate) || IsBroadcast(prefix, candidate)) candidate = NetAddress.FromV4((uint)(value - 1));
            return candidate;
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, next);
        var v6 = NetAddress.FromBytes(bytes);
        if (!prefix.Contains(v6))
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, value - 1);
            v6 = NetAddress.FromBytes(bytes);
        }
        return v6;
    }

    private static bool IsBroadcast(IpPrefix prefix, NetAddress address)
    {
        uint hostMask = prefix.Length >= 32 ? 0 : uint.MaxValue >> prefix.Length;
        return (address.V4Value & hostMask) == hostMask;
    }

    /// <summary>
    /// The network changed (or the user asked, SIGUSR1 to `sluice run`): every WireGuard peer handshakes
    /// again, from whatever address the host has now.
    /// </summary>
    public void NetworkChanged()
    {
        foreach (var endpoint in _outbounds.Values.OfType<WireGuardEndpoint>())
        {
            LogRehandshake(_logger, endpoint.Tag);
            endpoint.ForceHandshake();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "wireguard {Tag}: new handshake requested")]
    private static partial void LogRehandshake(ILogger logger, string tag);

    /// <summary>UDP flows refused because their lane carries TCP only, per lane: the TUN's and the mixed inbound's.</summary>
    public IReadOnlyDictionary<string, long> UdpRefusedByLane => _admission?.UdpRefusedByLane ?? new Dictionary<string, long>();

    /// <summary>Counters for status output.</summary>
    public EngineCounters Counters => new(_loop?.Packets ?? 0, (_nat4?.Count ?? 0) + (_nat6?.Count ?? 0),
        (_relay4?.Active ?? 0) + (_relay6?.Active ?? 0), _udp?.Count ?? 0);

    /// <summary>Stops every started stage in reverse of its start (<see cref="StartCore"/>); idempotent.</summary>
    public void Stop()
    {
        _stages.StopAll();
        _tun = null;
        _loop = null;
        _owners = null;
    }

    public void Dispose() => Stop();

    [LoggerMessage(Level = LogLevel.Information, Message = "engine started: {Tun} ({Addresses}, mtu {Mtu}), auto_route {AutoRoute}, fwmark 0x{Mark:x}")]
    private static partial void LogStarted(ILogger logger, string tun, string addresses, int mtu, bool autoRoute, uint mark);

    [LoggerMessage(Level = LogLevel.Information, Message = "engine started without a tun inbound: {Inbounds}, fwmark 0x{Mark:x}")]
    private static partial void LogStartedWithoutTun(ILogger logger, string inbounds, uint mark);

    [LoggerMessage(Level = LogLevel.Information, Message = "store_fakeip: {Count} fake address(es) restored from {Path}")]
    private static partial void LogFakeIpRestored(ILogger logger, int count, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "rule {Rule}")]
    private static partial void LogRule(ILogger logger, string rule);

    [LoggerMessage(Level = LogLevel.Warning, Message = "no {Family} ICMP socket ({Error}); echo requests on the direct lane go unanswered")]
    private static partial void LogNoIcmp(ILogger logger, string family, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "resolv.conf, hosts files and local rule sets are looked at every 2 s: no change notifications ({Reason})")]
    private static partial void LogFilesPolled(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "sweep failed: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string reason);
}

/// <summary>Engine counters: packets read from the TUN, NAT entries, relayed TCP connections, UDP sessions.</summary>
public readonly record struct EngineCounters(long Packets, int TcpNatEntries, int TcpRelayed, int UdpSessions);
