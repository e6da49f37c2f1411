namespace Sluice.Hosting.Linux.Doctor;

internal enum CheckStatus
{
    Ok,
    Note,
    Warn,
    Fail,
}

/// <summary>One line of `sluice doctor`: what was checked, what was found, and what to do about it (null when nothing).</summary>
internal sealed record HostCheck(string Name, CheckStatus Status, string Finding, string? Fix = null);
