using Sluice.Control;
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

    /// <summary>A config file's text, or the answer saying why it cannot be read (<paramref name="stays"/> adds what is kept).</summary>
    private async Task<(string? Json, Envelope? Refusal)> ReadConfigAsync(string path, string stays, FileCaller? caller)
    {
        try
        {
            var files = FilesFor(path, caller);
            return (await Task.Run(() => ConfigLoader.ReadFile(path, files)).ConfigureAwait(false), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string why = e is FileRefusedException ? $"the config was refused: {e.Message}" : $"cannot read the config {path}: {e.Message}";
            return (null, Envelopes.Fail(ApiCodes.InvalidConfig, why + stays));
        }
    }

    /// <summary>The loaded config, or the answer listing its errors, each with its JSON path (also as data).</summary>
    private (SluiceConfig? Config, Envelope? Refusal) LoadConfig(string json, string? path, string stays, FileCaller? caller)
    {
        try
        {
            return (ConfigLoader.Load(json, OriginOf(path) with { Files = FilesFor(path, caller) }), null);
        }
        catch (ConfigException e)
        {
            return (null, Envelopes.Fail(ApiCodes.InvalidConfig, $"the config{(path is null ? "" : " " + path)} is not valid{stays}; fix these and try again:\n{e.Message}",
                new ConfigErrorsData(e.Errors.Select(error => new ConfigErrorInfo(error.Path, error.Message)).ToArray())));
        }
    }

    /// <summary>Only the daemon's own -c file (root chose it) may name paths the daemon writes.</summary>
    private ConfigOrigin OriginOf(string? configPath) =>
        configPath is not null && configPath == _daemonConfigPath ? new ConfigOrigin(false, _store.StateDirectory) : ConfigOrigin.Api(_store.StateDirectory);
}
