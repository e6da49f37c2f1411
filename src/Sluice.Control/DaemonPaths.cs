namespace Sluice.Control;

/// <summary>
/// Where the daemon listens and keeps its state. Every path can be overridden (flags, or these environment
/// variables) so test daemons run side by side:
/// SLUICE_SOCKET (default /run/sluice/sluice.sock), SLUICE_SECRET_FILE (default /etc/sluice/secret),
/// SLUICE_STATE_DIR (default /var/lib/sluice), SLUICE_API (default http://127.0.0.1:1777).
/// </summary>
public static class DaemonPaths
{
    public const string DefaultSocket = "/run/sluice/sluice.sock";
    public const string DefaultSecretFile = "/etc/sluice/secret";
    public const string DefaultStateDir = "/var/lib/sluice";
    public const string DefaultListen = "127.0.0.1:1777";

    public static string Socket => Env("SLUICE_SOCKET") ?? DefaultSocket;

    public static string SecretFile => Env("SLUICE_SECRET_FILE") ?? DefaultSecretFile;

    public static string StateDir => Env("SLUICE_STATE_DIR") ?? DefaultStateDir;

    public static string Listen => Env("SLUICE_LISTEN") ?? DefaultListen;

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
}
