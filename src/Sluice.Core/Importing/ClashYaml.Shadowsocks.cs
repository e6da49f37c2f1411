using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Core.Outbounds.Shadowsocks.Plugins;
using Sluice.Core.Outbounds.WireGuard;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// Clash's <c>type: ss</c>: every cipher Sluice speaks (the 2022 ones with their base64 key checked here),
/// and <c>plugin: obfs</c> / <c>v2ray-plugin</c> with <c>plugin-opts</c> (mode, host, path, tls, mux)
/// turned into sing-box's "plugin" and "plugin_opts".
/// </summary>
public static partial class ClashYaml
{
    private static JsonObject ConvertShadowsocks(YamlMappingNode entry, string name, string server, int port)
    {
        string cipher = (Scalar(entry, "cipher") ?? throw new ImportException("no \"cipher\"")).ToLowerInvariant();
        var method = ShadowsocksMethod.Find(cipher)
            ?? throw new ImportException($"cipher \"{cipher}\" is not supported (supported: {string.Join(", ", ShadowsocksMethod.Supported)})");
        string password = Scalar(entry, "password") ?? throw new ImportException("no \"password\"");
        if (method.Is2022 && Shadowsocks2022Keys.Parse(method, password, out string? keyError) is null)
            throw new ImportException($"password: {keyError}");
        var o = new JsonObject
        {
            ["type"] = "shadowsocks", ["tag"] = name, ["server"] = server, ["server_port"] = port,
            ["method"] = cipher, ["password"] = password,
        };
        if (Scalar(entry, "plugin") is { Length: > 0 } plugin)
        {
            var pluginOpts = entry.Children.TryGetValue(new YamlScalarNode("plugin-opts"), out var node) ? node as YamlMappingNode : null;
            var (sip003, opts) = PluginOf(plugin, pluginOpts);
            if (ShadowsocksPluginParser.Parse(sip003, opts, out string? error, out _) is null)
                throw new ImportException($"plugin-opts: {error}");
            o["plugin"] = sip003;
            if (opts.Length > 0) o["plugin_opts"] = opts;
        }
        return o;
    }

    /// <summary>Clash's plugin and plugin-opts mapping to the SIP003 plugin name and options string.</summary>
    private static (string Plugin, string Opts) PluginOf(string plugin, YamlMappingNode? opts)
    {
        string? Get(string key) => opts is null ? null : Scalar(opts, key);
        var parts = new List<string>();
        switch (plugin)
        {
            case "obfs":
                parts.Add($"obfs={Get("mode") ?? "http"}");
                if (Get("host") is { Length: > 0 } host) parts.Add($"obfs-host={ShadowsocksPluginParser.Escape(host)}");
                return ("obfs-local", string.Join(';', parts));
            case "v2ray-plugin":
                if (Get("mode") is { } mode && mode != "websocket") throw new ImportException($"plugin-opts: mode \"{mode}\": only websocket is supported");
                if (IsTrue(Get("v2ray-http-upgrade"))) throw new ImportException("plugin-opts: v2ray-http-upgrade (the HTTPUpgrade transport) is not supported by Sluice (websocket only)");
                if (IsTrue(Get("tls"))) parts.Add("tls");
                if (IsTrue(Get("skip-cert-verify"))) throw new ImportException("plugin-opts: skip-cert-verify is not supported for v2ray-plugin (give the server's CA with cert= instead)");
                if (Get("host") is { Length: > 0 } wsHost) parts.Add($"host={ShadowsocksPluginParser.Escape(wsHost)}");
                if (Get("path") is { Length: > 0 } path) parts.Add($"path={ShadowsocksPluginParser.Escape(path)}");
                if (IsFalse(Get("mux"))) parts.Add("mux=0");
                return ("v2ray-plugin", string.Join(';', parts));
            default:
                throw new ImportException($"plugin \"{plugin}\" is not built into Sluice (supported: obfs, v2ray-plugin)");
        }
    }
}
