using System.Net;
using System.Net.Sockets;
using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds.Direct;

/// <summary>
/// Leaves on the host's own interfaces. Every socket carries the engine's mark (see
/// <see cref="ISocketFactory"/>), so policy routing sends it by the main table, not back into the TUN.
/// </summary>
internal sealed class DirectOutbound(string tag, DialOptions dial, ISocketFactory sockets, Dns.DnsStrategy? domainStrategy = null) : IOutbound
{
    public string Tag => tag;

    /// <summary>Which address of a name it dials (the config's domain_strategy); null: as the caller prefers.</summary>
    public Dns.DnsStrategy? DomainStrategy => domainStrategy;

    public string Type => "direct";

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        var socket = sockets.CreateTcp(destination.Address.Family, dial);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(dial.ConnectTimeout);
            await socket.ConnectAsync(new IPEndPoint(destination.Address.ToIPAddress(), destination.Port), timeout.Token);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new OutboundException($"direct: connect to {destination} timed out after {dial.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new OutboundException($"direct: connect to {destination} failed: {e.SocketErrorCode}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        var socket = sockets.CreateUdp(destination.Address.Family, dial);
        try
        {
            socket.Connect(new IPEndPoint(destination.Address.ToIPAddress(), destination.Port));
            return ValueTask.FromResult<IUdpChannel>(new ConnectedUdpChannel(socket));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new OutboundException($"direct: UDP to {destination} failed: {e.SocketErrorCode}", e);
        }
    }

    public void Dispose()
    {
    }
}

/// <summary>A connected UDP socket as a channel: one datagram per Send/Receive.</summary>
internal sealed class ConnectedUdpChannel(Socket socket) : IUdpChannel, IDatagramReadiness
{

    public void Send(ReadOnlySpan<byte> payload)
    {
        try
        {
            socket.Send(payload, SocketFlags.None);
        }
        catch (SocketException)
        {
            // ICMP errors surface here as ECONNREFUSED on the next send; UDP is lossy anyway.
        }
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // A port-unreachable answer to an earlier datagram; keep listening like an app would.
            }
        }
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))] // once per datagram: no box each time it waits
    public async ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SocketPeek.WaitAsync(socket, cancellationToken); // the datagram stays queued
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            // The receive that follows skips it, as it always did.
        }
    }

    public void Dispose() => socket.Dispose();
}
