using Sluice.Core.Dns;

namespace Sluice.Platform.Linux;

/// <summary>Where a Linux host keeps its resolver settings: glibc's resolv.conf and hosts file.</summary>
public static class LinuxDnsFiles
{
    public static DnsEnvironment Host { get; } = new("/etc/resolv.conf", 53, ["/etc/hosts"]);
}
