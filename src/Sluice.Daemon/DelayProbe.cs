using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Daemon;

/// <summary>
/// Clash's delay test: the time from dialing through an outbound to the first byte of the server's answer
/// to one HTTP request (HEAD), TLS included for https. Any HTTP status counts: the path works.
/// </summary>
internal static class DelayProbe
{
    public const string DefaultUrl = "http://www.gstatic.com/generate_204";

    public sealed record Result(int? Delay, bool TimedOut, string? Error);

    /// <summary>The URL a dashboard asked for (default <see cref="DefaultUrl"/>); null when it is not absolute http(s).</summary>
    public static Uri? Target(string? url) =>
        Uri.TryCreate(url ?? DefaultUrl, UriKind.Absolute, out var target) && target.Scheme is "http" or "https" ? target : null;

    /// <summary>A dashboard's timeout in ms (default 5000), kept within 0.1–30 s.</summary>
    public static TimeSpan Limit(int? timeout) => TimeSpan.FromMilliseconds(Math.Clamp(timeout ?? 5000, 100, 30_000));

    /// <summary>
    /// Every outbound probed at once; their delays by tag (failed ones left out, as Clash's group delay does),
    /// each kept in <see cref="DelayHistory"/> so /proxies shows it.
    /// </summary>
    public static async Task<Dictionary<string, int>> MeasureEachAsync(IEnumerable<IOutbound> outbounds, Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var probes = outbounds.Select(async o => (o.Tag, Result: await MeasureAsync(o, url, timeout, cancellationToken))).ToArray();
        var delays = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (tag, result) in await Task.WhenAll(probes))
        {
            if (result.Delay is not { } delay) continue;
            DelayHistory.Record(tag, delay);
            delays[tag] = delay;
        }
        return delays;
    }

    public static async Task<Result> MeasureAsync(IOutbound outbound, Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        try
        {
            NetAddress address;
            if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip)) address = NetAddress.FromIPAddress(ip);
            else address = NetAddress.FromIPAddress((await Dns.GetHostAddressesAsync(url.Host, cts.Token)).First());
            var destination = new Destination(address, (ushort)url.Port, ip is null ? url.Host : null);
            await using var stream = await outbound.DialTcpAsync(destination, cts.Token);
            Stream channel = stream;
            if (url.Scheme == "https")
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: true);
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = url.Host }, cts.Token);
                channel = tls;
            }
            byte[] request = Encoding.ASCII.GetBytes($"HEAD {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nUser-Agent: sluice-delay\r\nConnection: close\r\n\r\n");
            await channel.WriteAsync(request, cts.Token);
            var buffer = new byte[64];
            int read = await channel.ReadAsync(buffer, cts.Token);
            if (read == 0) return new Result(null, false, "the server closed the connection without answering");
            return new Result(Math.Max(1, (int)clock.ElapsedMilliseconds), false, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Result(null, true, $"timeout after {timeout.TotalMilliseconds:0} ms");
        }
        catch (Exception e) when (e is OutboundException or IOException or System.Net.Sockets.SocketException or System.Security.Authentication.AuthenticationException or InvalidOperationException)
        {
            return new Result(null, false, e.Message);
        }
    }
}
