using Sluice.Core.Outbounds.Shadowsocks.Plugins;

namespace Sluice.Core.Configuration;

/// <summary>A shadowsocks outbound's "plugin" and "plugin_opts" (sing-box syntax), checked where they are written.</summary>
internal static class ShadowsocksPluginFields
{
    public static ShadowsocksPluginOptions? Parse(ObjectReader r)
    {
        string? plugin = r.String("plugin");
        string? opts = r.String("plugin_opts");
        if (string.IsNullOrEmpty(plugin))
        {
            if (!string.IsNullOrEmpty(opts)) r.Errors.Add(r.PathOf("plugin_opts"), "set without \"plugin\": name the plugin (obfs-local or v2ray-plugin), or remove the options");
            return null;
        }
        var options = ShadowsocksPluginParser.Parse(plugin, opts ?? "", out string? error, out bool optsError);
        if (options is null) r.Errors.Add(r.PathOf(optsError ? "plugin_opts" : "plugin"), error!);
        else if (options is V2RayPluginOptions { CertificatePath: { } cert } && !File.Exists(cert))
            r.Errors.Add(r.PathOf("plugin_opts"), $"cert={cert}: no such file (a PEM CA certificate to verify the server with)");
        return options;
    }
}
