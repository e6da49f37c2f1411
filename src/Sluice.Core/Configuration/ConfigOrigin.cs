namespace Sluice.Core.Configuration;

/// <summary>
/// Who handed Sluice a config, which decides what the config may choose. A config a root user runs
/// (`sluice run -c`, `gate apply`) is the host's own; a config sent to the daemon's API comes from a
/// less trusted caller, and must not name a path the root daemon writes (docs/api.md).
/// </summary>
/// <param name="FromApi">True for configs sent through the daemon's API (inline or by path): no written path may be named.</param>
/// <param name="StateDirectory">The directory written state lives under (subscription caches in <c>subscriptions/TAG.txt</c>).</param>
public sealed record ConfigOrigin(bool FromApi, string StateDirectory)
{
    /// <summary>Default state directory of a host install.</summary>
    public const string DefaultStateDirectory = "/var/lib/sluice";

    /// <summary>A config the local root user runs.</summary>
    public static ConfigOrigin Local { get; } = new(false, DefaultStateDirectory);

    /// <summary>A config sent to the daemon, whose state lives in <paramref name="stateDirectory"/>.</summary>
    public static ConfigOrigin Api(string stateDirectory) => new(true, stateDirectory);

    /// <summary>How the files the config names are read: a platform source bound to the API caller, else the bounded fallback.</summary>
    public IFileSource Files { get; init; } = BoundedFileSource.Instance;

    /// <summary>Where subscription caches live unless a local config says otherwise.</summary>
    public string SubscriptionCacheDirectory => Path.Combine(StateDirectory, "subscriptions");
}
