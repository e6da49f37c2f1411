using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Daemon;

/// <summary>
/// Clash's delay test: the time from dialing through an outbound to the first byte of the server's answer
/// to one HTTP request (HEAD), TLS included for https. Any HTTP status counts (the path works), unless the dashboard
/// sent mihomo's <c>expected</c> ranges ("204", "200/302", "200-299"): then another status is a failure.
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
    public static async Task<Dictionary<string, int>> MeasureEachAsync(IEnumerable<IOutbound> outbounds, Uri url, TimeSpan timeout, CancellationToken cancellationToken,
        StatusRanges? expected = null)
    {
        var probes = outbounds.Select(async o => (o.Tag, Result: await MeasureAsync(o, url, timeout, cancellationToken, expected))).ToArray();
        var delays = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (tag, result) in await Task.WhenAll(probes))
        {
            if (result.Delay is not { } delay) continue;
            DelayHistory.Record(tag, delay);
            delays[tag] = delay;
        }
        return delays;
    }

    public static async Task<Result> MeasureAsync(IOutbound outbound, Uri url, TimeSpan timeout, CancellationToken cancellationToken, StatusRanges? expected = null)
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
            int delay = Math.Max(1, (int)clock.ElapsedMilliseconds);
            if (expected is not null)
            {
                // "HTTP/1.1 204 No Content": the status is the three digits after the first space.
                var head = Encoding.ASCII.GetString(buffer, 0, read);
                int space = head.IndexOf(' ', StringComparison.Ordinal);
                int status = space > 0 && head.Length >= space + 4 && int.TryParse(head.AsSpan(space + 1, 3), out int s) ? s : 0;
                if (!expected.Accepts(status)) return new Result(null, false, $"HTTP status {status} is not an expected one ({expected})");
            }
            return new Result(delay, false, null);
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

/// <summary>mihomo's <c>expected</c> status ranges: "204", "200/302", "200-299/304" (empty: any status).</summary>
internal sealed class StatusRanges
{
    private readonly (int Low, int High)[] _ranges;
    private readonly string _text;

    private StatusRanges((int, int)[] ranges, string text)
    {
        _ranges = ranges;
        _text = text;
    }

    /// <summary>Null for an absent or empty text (any status); false when the text is not ranges of 100–599.</summary>
    public static bool TryParse(string? text, out StatusRanges? ranges)
    {
        ranges = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        var list = new List<(int, int)>();
        foreach (string part in text.Split('/', StringSplitOptions.TrimEntries))
        {
            string[] ends = part.Split('-', StringSplitOptions.TrimEntries);
            if (ends.Length > 2 || !int.TryParse(ends[0], out int low) || !int.TryParse(ends[^1], out int high) || low < 100 || high > 599 || low > high) return false;
            list.Add((low, high));
        }
        ranges = new StatusRanges(list.ToArray(), text);
        return true;
    }

    public bool Accepts(int status) => _ranges.Any(r => status >= r.Low && status <= r.High);

    public override string ToString() => _text;
}
