using Sluice.Core.Configuration;
using Sluice.Platform.Linux.Files;

namespace Sluice.Cli.Commands;

/// <summary>How the CLI's own configs (`run -c`, `gate apply -c`) are loaded: the host's origin, files read as regular files under the caps.</summary>
internal static class HostConfig
{
    public static ConfigOrigin Origin { get; } = ConfigOrigin.Local with { Files = RegularFileSource.Host };
}
