using Sluice.Packets;

namespace Sluice.Core.Outbounds;

/// <summary>Where a flow is going: an address, and the name it was reached by when known.</summary>
public readonly record struct Destination(NetAddress Address, ushort Port, string? Domain = null)
{
    /// <summary>
    /// A destination a proxy request named: an IP literal in a name field (SOCKS5/4a names, HTTP hosts; clients send
    /// addresses that way) is the address, so IP rules match it and no resolver is asked; anything else stays a name.
    /// Only the canonical forms count: "127.1" or "1234" (inet_aton shorthands) stay names.
    /// </summary>
    public static Destination Named(string name, ushort port)
    {
        // SOCKS5 and Shadowsocks datagrams read their address through here: the canonical form is compared on the stack.
        Span<char> canonical = stackalloc char[15];
        if (System.Net.IPAddress.TryParse(name, out var literal)
            && (literal.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                ? name.Contains(':')
                : literal.TryFormat(canonical, out int written) && canonical[..written].SequenceEqual(name)))
            return new Destination(NetAddress.FromIPAddress(literal), port);
        return new Destination(default, port, name);
    }

    public override string ToString() => Domain is null
        ? (Address.IsV4 ? $"{Address}:{Port}" : $"[{Address}]:{Port}")
        : $"{Domain}:{Port}";
}

/// <summary>
/// An L4 lane: TCP flows terminated by the kernel are relayed as streams, UDP flows as datagrams.
/// Implementations live one per folder under Outbounds/ and are created by <see cref="OutboundRegistry"/>.
/// </summary>
public interface IOutbound : IDisposable
{
    string Tag { get; }

    string Type { get; }

    /// <summary>Opens a stream to the destination; throws <see cref="OutboundException"/> with a readable reason.</summary>
    ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken);

    /// <summary>
    /// Whether this lane can carry UDP now: false for an HTTP proxy, for "network": "tcp", for a SOCKS
    /// server that refused UDP ASSOCIATE, and for a group whose chosen member cannot. A protected app's UDP
    /// routed to a lane without it is refused with ICMP port unreachable, never sent another way.
    /// </summary>
    bool CarriesUdp => true;

    /// <summary>Opens a datagram channel to the destination.</summary>
    ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken);
}

/// <summary>A UDP association for one flow. Send is called from the packet thread and must not block long.</summary>
public interface IUdpChannel : IDisposable
{
    void Send(ReadOnlySpan<byte> payload);

    /// <summary>Receives one datagram payload; returns 0-length only for an empty datagram.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);
}

/// <summary>
/// A UDP channel that can wait for its next datagram without a buffer, so an idle session holds none
/// (the session rents its 64 KiB receive buffer only once a datagram is there).
/// </summary>
internal interface IDatagramReadiness
{
    /// <summary>Completes when a datagram can be received at once (or the next receive will fail).</summary>
    ValueTask WaitReadableAsync(CancellationToken cancellationToken);
}

/// <summary>An outbound could not carry a flow. The message is for people (it goes to the log).</summary>
public sealed class OutboundException(string message, Exception? inner = null) : Exception(message, inner);
