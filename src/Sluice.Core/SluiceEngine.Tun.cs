using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Core.Tun;

namespace Sluice.Core;

/// <summary>
/// The TUN inbound's stages, after the rules and outbounds: stale routes, the TUN, the stages of the data path,
/// the packet thread, the sweeper, auto_route last (traffic arrives only once it is served). Stopped in reverse:
/// auto_route goes first, and the packet thread ends before the relays and sessions it feeds are disposed, so
/// no packet read during the stop opens a flow nothing sweeps.
/// </summary>
public sealed partial class SluiceEngine
{
    private void StartTun(TunInboundOptions tunOptions, ISocketFactory sockets, FlowAdmission admission, Router router)
    {
        _stages.Start("stale routes", () =>
        {
            if (!tunOptions.AutoRoute || _platform.Routes is null) return;
            _routePlan = new AutoRoutePlan(
                tunOptions.InterfaceName,
                ConfigDefaults.RouteTable,
                FwMark,
                ConfigDefaults.RulePriority,
                tunOptions.Address.Any(a => a.IsV4),
                tunOptions.Address.Any(a => !a.IsV4),
                EngineMode.WithSets(tunOptions.RouteAddress, tunOptions.RouteAddressSet, _ruleSets!),
                EngineMode.WithSets(tunOptions.RouteExcludeAddress, tunOptions.RouteExcludeAddressSet, _ruleSets!),
                tunOptions.StrictRoute)
            { Scope = tunOptions.Scope };
            // What a killed run left is removed on its own thread while the TUN and the lanes come up (each
            // removal is a process start or more); auto_route waits for it before its routes go in.
            var routes = _platform.Routes;
            var plan = _routePlan;
            _staleRemoval = Task.Factory.StartNew(() => routes.RemoveStale(plan), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }, () =>
        {
            // A start that failed half-way may still be removing leftovers: that ends first (a failure of it is
            // logged by the stages); then what a failed apply below half added goes.
            try { WaitForStaleRemoval(); }
            finally { RemoveRoutes(); }
        });
        _stages.Start("tun", () => _tun = _platform.OpenTun(tunOptions), () => _tun?.Dispose());
        var tun = _tun!;
        var v4 = tunOptions.Address.FirstOrDefault(a => a.IsV4);
        var v6 = tunOptions.Address.FirstOrDefault(a => !a.IsV4 && a.Length != 0);
        var relayLog = _logs.CreateLogger("tcp");
        var packetLog = _logs.CreateLogger("packets");
        _stages.Start("dns hijack", () => _dnsHijack = new DnsHijack(_dnsServer!, tun, _logs.CreateLogger("dns"), Limits, _platform.Processes, _time)
        {
            WaitingQueryFinished = _trimmer is { } trimmer ? trimmer.OnWaitingQueryFinished : null,
        }, () => _dnsHijack?.Stop());
        _stages.Start("udp sessions", () => _udp = new UdpSessions(tun, admission, _dnsHijack, _logs.CreateLogger("udp"), _time, _limits), () => _udp?.Dispose());
        _stages.Start("owner lookups", () =>
        {
            if (_platform.Processes is { } processes) _owners = new OwnerLookups(processes, _limits.PendingOwnerLookups, packetLog);
        }, () => _owners?.Dispose());
        _stages.Start("tcp relays", () =>
        {
            if (tunOptions.Address.Any(a => a.IsV4))
            {
                _nat4 = new TcpNat(v4.Address, NatPeer(v4));
                _relay4 = new TcpRelay(_nat4, sockets, admission, _dnsHijack, relayLog, _limits, _time, _relayBuffers);
                _relay4.Start();
            }
            if (tunOptions.Address.Any(a => !a.IsV4))
            {
                _nat6 = new TcpNat(v6.Address, NatPeer(v6));
                _relay6 = new TcpRelay(_nat6, sockets, admission, _dnsHijack, relayLog, _limits, _time, _relayBuffers);
                _relay6.Start();
            }
        }, () => { _relay4?.Dispose(); _relay6?.Dispose(); });
        _stages.Start("icmp relays", () =>
        {
            if (_nat4 is not null) (_icmp4 = TryIcmp(sockets, v4: true))?.Start();
            if (_nat6 is not null) (_icmp6 = TryIcmp(sockets, v4: false))?.Start();
        }, () => { _icmp4?.Dispose(); _icmp6?.Dispose(); });
        var inbound = new TunInbound(tunOptions.Tag, tunOptions.Address.ToArray(), _platform.Processes, _dnsHijack, admission, _owners, tunOptions.UdpTimeout);
        var l3 = _l3 = new L3Lanes(tun, inbound, packetLog, _limits);
        _stages.Start("wireguard endpoints", () =>
        {
            foreach (var endpoint in _outbounds.Values.OfType<WireGuardEndpoint>()) endpoint.Start(tun, Attachment);
        });
        _stages.Start("packet thread", () =>
        {
            _loop = new PacketLoop(tun, new TcpNatPath(tun, _nat4, _nat6, inbound, l3, packetLog), _udp!,
                new IcmpPath(tun, _icmp4, _icmp6, inbound, l3, _limits), l3, inbound, packetLog, _limits, _time) { BatchHandled = NoteTraffic };
            _loop.Start();
        }, () =>
        {
            tun.Dispose(); // ends the blocking read
            _loop?.Stop();
        });
        _stages.Start("sweeper", () =>
        {
            // Deadline-driven (SluiceEngine.Sweep.cs): armed one interval out, then re-armed for the next expiry or by traffic.
            _sweepDue = _time.Milliseconds() + (long)_limits.SweepInterval.TotalMilliseconds;
            _sweeper = _time.CreateTimer(_ => Sweep(), null, _limits.SweepInterval, Timeout.InfiniteTimeSpan);
        }, () =>
        {
            // The packet thread stops after this stage and may still note traffic: it finds no timer, not a disposed one.
            ITimer? sweeper;
            lock (_sweepLock) (sweeper, _sweeper) = (_sweeper, null);
            sweeper?.Dispose();
        });
        _stages.Start("auto_route", () =>
        {
            if (_routePlan is null) return;
            WaitForStaleRemoval();
            _platform.Routes!.Apply(_routePlan);
        }, RemoveRoutes);
        LogStarted(_logger, tun.Name, string.Join(", ", tunOptions.Address), tun.Mtu, _routePlan is not null, FwMark);
        _trimmer?.AfterStart();
        foreach (var line in router.Describe()) LogRule(_logger, line);
    }

    private void WaitForStaleRemoval()
    {
        var removal = _staleRemoval;
        _staleRemoval = null;
        removal?.GetAwaiter().GetResult();
    }

    /// <summary>From here on the host's traffic no longer enters the TUN.</summary>
    private void RemoveRoutes()
    {
        if (_routePlan is null) return;
        try
        {
            _platform.Routes!.Remove(_routePlan);
        }
        finally
        {
            _routePlan = null;
        }
    }
}
