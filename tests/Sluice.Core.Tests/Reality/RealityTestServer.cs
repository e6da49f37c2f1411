using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Tests.Reality;

/// <summary>
/// A Reality + VLESS + Vision server for the tests, on loopback:
/// 1. reads the ClientHello record; if its session id does not open under the server key (wrong public key,
///    unknown short id) it does what Reality does: forwards the connection, hello included, to the fallback
///    (a real TLS server), so the client meets a real certificate
/// 2. otherwise the Reality TLS 1.3 handshake (<see cref="RealityServerHandshake"/>)
/// 3. VLESS: request header (uuid, addons with the flow, TCP command, target), response header, then the
///    relay to the target with Vision (<see cref="VisionServerRelay"/>)
/// </summary>
internal sealed class RealityTestServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task> _connections = [];

    public RealityTestServer(byte[] privateKey, string shortId, string serverName, byte[] userId, IPEndPoint fallback, ushort suite = Tls13CipherSuite.Aes128GcmSha256)
    {
        PrivateKey = privateKey;
        ShortIds = new HashSet<string> { shortId.PadRight(16, '0') };
        ServerName = serverName;
        UserId = userId;
        Fallback = fallback;
        Suite = suite;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public byte[] PrivateKey { get; }
    public IReadOnlySet<string> ShortIds { get; }
    public string ServerName { get; }
    public byte[] UserId { get; }
    public IPEndPoint Fallback { get; }
    public ushort Suite { get; }
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections the server authenticated as Reality, and those it sent to the fallback.</summary>
    public int Authenticated, Forwarded;

    /// <summary>The relays of finished connections: did Vision go direct both ways.</summary>
    public readonly List<VisionServerRelay> Relays = [];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            lock (_connections) _connections.Add(ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        try
        {
            var header = new byte[5];
            await stream.ReadExactlyAsync(header, _stop.Token);
            var record = new byte[5 + BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3))];
            header.CopyTo(record, 0);
            await stream.ReadExactlyAsync(record.AsMemory(5), _stop.Token);
            var hello = record[5..];
            var reality = hello[0] == 1 ? RealityServerHandshake.Authenticate(hello, PrivateKey, ShortIds, ServerName, DateTimeOffset.UtcNow) : null;
            if (reality is null)
            {
                Interlocked.Increment(ref Forwarded);
                await ForwardAsync(stream, record);
                return;
            }
            Interlocked.Increment(ref Authenticated);
            var records = new Tls13RecordLayer(stream);
            await RealityServerHandshake.RunAsync(records, reality, Suite, _stop.Token);
            var relay = new VisionServerRelay(records, UserId);
            lock (Relays) Relays.Add(relay);
            await relay.RunAsync(_stop.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException or TlsException or EndOfStreamException)
        {
        }
    }

    private async Task ForwardAsync(NetworkStream client, byte[] hello)
    {
        using var fallback = new TcpClient();
        await fallback.ConnectAsync(Fallback, _stop.Token);
        var upstream = fallback.GetStream();
        await upstream.WriteAsync(hello, _stop.Token);
        var up = client.CopyToAsync(upstream, _stop.Token);
        var down = upstream.CopyToAsync(client, _stop.Token);
        await Task.WhenAny(up, down);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        Task[] running;
        lock (_connections) running = [.. _connections];
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
