using Sluice.Core.Routing;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// The system-stack NAT for one address family. An app's segment <c>S:sp → D:dp</c> is rewritten to
/// <c>nat:natPort → tun:listenPort</c> and written back into the TUN, so the kernel's own TCP terminates
/// it on the relay's listener; the kernel's answers <c>tun:listenPort → nat:natPort</c> are rewritten back
/// to <c>D:dp → S:sp</c>. The relay finds the original flow from the accepted socket's peer port.
/// </summary>
internal sealed class TcpNat(NetAddress tunAddress, NetAddress natAddress)
{
    private const int FirstPort = 1024;

    private readonly object _sync = new();
    private readonly Dictionary<FlowKey, TcpNatEntry> _byFlow = new();
    private readonly TcpNatEntry?[] _byPort = new TcpNatEntry?[65536];
    private int _nextPort = FirstPort;

    public NetAddress TunAddress => tunAddress;

    public NetAddress NatAddress => natAddress;

    /// <summary>The relay listener's port on <see cref="TunAddress"/>; set once the listener is bound.</summary>
    public ushort ListenPort { get; set; }

    /// <summary>When the earliest entry left by the last <see cref="Sweep"/> expires (engine ms); MaxValue when none will (open relays never do).</summary>
    public long NextExpiry { get; private set; } = long.MaxValue;

    public int Count
    {
        get { lock (_sync) return _byFlow.Count; }
    }

    /// <summary>True when a packet read from the TUN is the kernel answering on the relay side.</summary>
    public bool IsFromListener(NetAddress source, ushort sourcePort, NetAddress destination) =>
        sourcePort == ListenPort && source == tunAddress && destination == natAddress;

    public TcpNatEntry? Find(in FlowKey key)
    {
        lock (_sync) return _byFlow.GetValueOrDefault(key);
    }

    public TcpNatEntry? FindByPort(ushort natPort) => Volatile.Read(ref _byPort[natPort]);

    /// <summary>Allocates a NAT port for a new flow; null when all ports are taken.</summary>
    public TcpNatEntry? Add(in FlowKey key, FlowContext flow, RouteDecision? decision, long now, uint synSequence = 0)
    {
        lock (_sync)
        {
            for (int tries = 0; tries < 65536 - FirstPort; tries++)
            {
                int port = _nextPort;
                _nextPort = port == 65535 ? FirstPort : port + 1;
                if (_byPort[port] is not null) continue;
                var entry = new TcpNatEntry(key, (ushort)port, flow, decision) { LastSeen = now, SynSequence = synSequence };
                _byFlow[key] = entry;
                Volatile.Write(ref _byPort[port], entry);
                return entry;
            }
            return null;
        }
    }

    /// <summary>Forgets <paramref name="entry"/> at once, both ways: the listener's late segments for its port are then dropped.</summary>
    public void Remove(TcpNatEntry entry)
    {
        lock (_sync)
        {
            if (_byFlow.TryGetValue(entry.Original, out var current) && ReferenceEquals(current, entry)) _byFlow.Remove(entry.Original);
            if (ReferenceEquals(_byPort[entry.NatPort], entry)) Volatile.Write(ref _byPort[entry.NatPort], null);
        }
    }

    /// <summary>
    /// Forgets entries whose relay finished more than <paramref name="closedGrace"/> ago (so the final
    /// FIN/ACK exchange still finds them), and entries the relay never accepted that saw no packet for
    /// <paramref name="idle"/> (a SYN the app gave up on). Open relayed connections may idle for hours.
    /// </summary>
    public int Sweep(long now, long closedGrace, long idle)
    {
        List<TcpNatEntry>? dead = null;
        long next = long.MaxValue;
        lock (_sync)
        {
            foreach (var entry in _byFlow.Values)
            {
                long expiry = entry.ClosedAt is { } closed ? closed + closedGrace
                    : entry.Accepted ? long.MaxValue : entry.LastSeen + idle;
                if (now > expiry) (dead ??= []).Add(entry);
                else next = Math.Min(next, expiry);
            }
            NextExpiry = next;
            if (dead is null) return 0;
            foreach (var entry in dead)
            {
                _byFlow.Remove(entry.Original);
                Volatile.Write(ref _byPort[entry.NatPort], null);
            }
        }
        return dead.Count;
    }
}

/// <summary>One NATed TCP flow.</summary>
internal sealed class TcpNatEntry(FlowKey original, ushort natPort, FlowContext flow, RouteDecision? decision)
{
    public FlowKey Original { get; } = original;

    public ushort NatPort { get; } = natPort;

    public FlowContext Flow { get; } = flow;

    /// <summary>The decision made at the SYN, or null when the rules need the first payload (sniffing).</summary>
    public RouteDecision? Decision { get; } = decision;

    /// <summary>The sequence number of the SYN that opened the flow: a SYN with another one is a new connection.</summary>
    public uint SynSequence { get; init; }

    /// <summary>Milliseconds of the engine's clock at the last packet in either direction.</summary>
    public long LastSeen;

    /// <summary>Set by the relay once the kernel handed it the connection.</summary>
    public volatile bool Accepted;

    /// <summary>When the relay finished, or null while it runs.</summary>
    public long? ClosedAt { get; set; }
}
