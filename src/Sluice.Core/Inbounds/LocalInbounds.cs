using System.Net;
using Microsoft.Extensions.Logging;

namespace Sluice.Core.Inbounds;

/// <summary>An inbound that listens on a local socket: it binds in its constructor and serves from <see cref="Start"/>.</summary>
internal interface ILocalInbound : IDisposable
{
    string Tag { get; }

    /// <summary>Where it listens, as the log and the start line show it.</summary>
    string Endpoint { get; }

    void Start();
}

/// <summary>
/// The engine's inbounds of one type (mixed proxies, DNS listeners): all bind before any serves, so
/// a port already taken fails the start with nothing half-running, and they stop together.
/// </summary>
internal sealed partial class LocalInbounds : IDisposable
{
    private readonly List<ILocalInbound> _inbounds = [];

    private LocalInbounds()
    {
    }

    /// <param name="service">What they serve, for the "listening" line (e.g. "DNS").</param>
    public static LocalInbounds Start<TOptions>(IEnumerable<TOptions> options, Func<TOptions, ILocalInbound> create, ILogger logger, string service)
    {
        var all = new LocalInbounds();
        try
        {
            foreach (var o in options) all._inbounds.Add(create(o));
        }
        catch
        {
            all.Dispose();
            throw;
        }
        foreach (var inbound in all._inbounds)
        {
            inbound.Start();
            LogListening(logger, inbound.Tag, service, inbound.Endpoint);
        }
        return all;
    }

    public string Describe() => string.Join(", ", _inbounds.Select(i => $"{i.Tag} on {i.Endpoint}"));

    /// <summary>0.0.0.0 or ::, where a connection's local address is only known per connection.</summary>
    public static bool IsWildcard(IPAddress listen) => listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any);

    public void Dispose()
    {
        foreach (var inbound in _inbounds) inbound.Dispose();
        _inbounds.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Inbound}: {Service} listening on {Endpoint}")]
    private static partial void LogListening(ILogger logger, string inbound, string service, string endpoint);
}
