using Sluice.Core.Configuration;

namespace Sluice.Daemon;

/// <summary>
/// What a config may make the daemon read: files it names are read through the platform's source bound to
/// the API caller (regular files only, capped, and only what the caller could read itself; docs/api.md); the
/// daemon's own -c config is root's choice and is read with the host's rights.
/// </summary>
internal sealed partial class EngineSupervisor
{
    /// <summary>The caller of the running config's `up`, kept for `reload` (and remembered across restarts by the store).</summary>
    private FileCaller? _caller;

    private IFileSource FilesFor(string? configPath, FileCaller? caller) =>
        _platform.Files(IsDaemonsOwn(configPath) ? null : caller);

    private bool IsDaemonsOwn(string? configPath) =>
        configPath is not null && _daemonConfigPath is not null
        && string.Equals(Path.GetFullPath(configPath), Path.GetFullPath(_daemonConfigPath), StringComparison.Ordinal);

    /// <summary>
    /// external_ui and external_ui_download_url make the daemon (root) serve or fetch files: only the config it was
    /// started with (-c, written by whoever runs it) may choose them, never one sent over the API.
    /// </summary>
    private string? RefuseChosenFiles(SluiceConfig config, string? configPath)
    {
        if (config.Experimental.ClashApi?.Dashboard is not { ChoosesFiles: true } dashboard) return null;
        if (IsDaemonsOwn(configPath)) return null;
        string field = dashboard.ExternalUi is not null ? "external_ui" : "external_ui_download_url";
        return $"experimental.clash_api.{field}: only the config the daemon was started with (`sluice daemon -c FILE`) may choose a dashboard to serve or download; "
            + "a config sent over the API cannot. Remove the field from this config, or put it in the daemon's own config.";
    }
}
