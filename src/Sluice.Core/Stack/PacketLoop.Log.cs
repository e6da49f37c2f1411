using Microsoft.Extensions.Logging;

namespace Sluice.Core.Stack;

/// <summary>The packet thread's log lines.</summary>
internal sealed partial class PacketLoop
{
    [LoggerMessage(Level = LogLevel.Information, Message = "{Flow} {Process} => reject ({Rule})")]
    private static partial void LogTcpRefused(ILogger logger, string flow, string process, string rule);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Flow} {Process} => drop ({Rule})")]
    private static partial void LogTcpDropped(ILogger logger, string flow, string process, string rule);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Flow} {Process} => {Lane} ({Rule})")]
    private static partial void LogL3Routed(ILogger logger, string flow, string process, string lane, string rule);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: lane {Lane} has no tunnel address of this family; refused")]
    private static partial void LogL3Refused(ILogger logger, string flow, string lane);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: all NAT ports in use; connection reset")]
    private static partial void LogNatFull(ILogger logger, string flow);

    [LoggerMessage(Level = LogLevel.Error, Message = "TUN read failed: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "packet dropped after {Error}: {Reason}")]
    private static partial void LogPacketFailed(ILogger logger, string error, string reason);
}
