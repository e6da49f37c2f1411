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
        else if (options is V2RayPluginOptions { CertificatePath: { } cert } v2ray)
        {
            if (r.Errors.ReadText(r.PathOf("plugin_opts"), cert, EngineLimits.Default.PemFileBytes) is null) return options;
            return v2ray with { Files = r.Errors.Files };
        }
        return options;
    }
}
