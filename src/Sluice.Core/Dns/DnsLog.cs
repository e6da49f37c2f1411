using Microsoft.Extensions.Logging;

namespace Sluice.Core.Dns;

internal static partial class DnsLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "server {Server} ({Address}) failed for {Name}: {Reason}")]
    public static partial void UpstreamFailed(ILogger logger, string server, string address, string name, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "server {Server} did not answer {Name} within {Seconds:0.###} s")]
    public static partial void UpstreamTimeout(ILogger logger, string server, string name, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "server {Server} sent a malformed or mismatched answer for {Name} ({Length} bytes): {Reason}")]
    public static partial void MalformedAnswer(ILogger logger, string server, string name, int length, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Inbound} asked {Name} type {Type} -> {Action}")]
    public static partial void Query(ILogger logger, string inbound, string name, ushort type, string action);

    [LoggerMessage(Level = LogLevel.Warning, Message = "hosts server {Server}: cannot read {Path}: {Reason}")]
    public static partial void HostsFileUnreadable(ILogger logger, string server, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "internal error answering a query; answered SERVFAIL")]
    public static partial void InternalError(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "local server {Server} uses nameservers {Nameservers} (from {Path})")]
    public static partial void LocalNameservers(ILogger logger, string server, string nameservers, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "hosts server {Server} reloaded {Paths}: {Names} names")]
    public static partial void HostsReloaded(ILogger logger, string server, string paths, int names);

    [LoggerMessage(Level = LogLevel.Warning, Message = "hosts server {Server} keeps its previous entries: {Problem}")]
    public static partial void HostsReloadFailed(ILogger logger, string server, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "local server {Server} reloaded {Path}: nameservers {Nameservers}")]
    public static partial void LocalReloaded(ILogger logger, string server, string path, string nameservers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "local server {Server} keeps nameservers {Nameservers}: {Problem}")]
    public static partial void LocalReloadFailed(ILogger logger, string server, string nameservers, string problem);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Name}: the answer of server {Server} ({Addresses}) does not pass the address filter of dns.rules[{Rule}]; trying the rules after it")]
    public static partial void AnswerRejected(ILogger logger, string name, string server, string addresses, int rule);
}
