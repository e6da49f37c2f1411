using System.Text;

namespace Sluice.Core.Outbounds.Shadowsocks.Plugins;

/// <summary>
/// "plugin" and "plugin_opts" (SIP003: "key=value;flag;key=value", with '\' escaping ';', '=' and '\')
/// to <see cref="ShadowsocksPluginOptions"/>. Errors say which option is wrong and what is accepted.
/// </summary>
public static class ShadowsocksPluginParser
{
    public static IReadOnlyList<string> Supported { get; } = ["obfs-local", "v2ray-plugin"];

    /// <summary>The plugin, or null and the reason; <paramref name="optsError"/> tells whether the reason is about plugin_opts.</summary>
    public static ShadowsocksPluginOptions? Parse(string plugin, string opts, out string? error, out bool optsError)
    {
        optsError = true;
        var pairs = Split(opts, out error);
        if (pairs is null) return null;
        switch (plugin)
        {
            case "obfs-local" or "simple-obfs":
                return ParseObfs(opts, pairs, out error);
            case "v2ray-plugin":
                return ParseV2Ray(opts, pairs, out error);
            default:
                optsError = false;
                error = $"plugin \"{plugin}\" is not built into Sluice (supported: {string.Join(", ", Supported)}); Sluice runs no external plugin process";
                return null;
        }
    }

    private static ObfsPluginOptions? ParseObfs(string opts, List<(string Key, string? Value)> pairs, out string? error)
    {
        bool tls = false;
        string host = "www.bing.com", uri = "/";
        foreach (var (key, value) in pairs)
        {
            switch (key)
            {
                case "obfs" when value is "http" or "tls":
                    tls = value == "tls";
                    break;
                case "obfs":
                    error = $"obfs={value}: expected obfs=http or obfs=tls";
                    return null;
                case "obfs-host" when !string.IsNullOrEmpty(value):
                    host = value;
                    break;
                case "obfs-uri" when value is ['/', ..]:
                    uri = value;
                    break;
                case "obfs-host" or "obfs-uri":
                    error = $"{key}: needs a value ({(key == "obfs-host" ? "a host name" : "a path starting with /")})";
                    return null;
                default:
                    error = $"\"{key}\" is not an obfs-local option (known: obfs, obfs-host, obfs-uri)";
                    return null;
            }
        }
        if (host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || uri.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            error = "obfs-host and obfs-uri must not contain spaces or control characters";
            return null;
        }
        error = null;
        return new ObfsPluginOptions(opts, tls, host, uri);
    }

    private static V2RayPluginOptions? ParseV2Ray(string opts, List<(string Key, string? Value)> pairs, out string? error)
    {
        bool tls = false;
        string host = "cloudfront.com", path = "/";
        string? cert = null;
        foreach (var (key, value) in pairs)
        {
            switch (key)
            {
                case "tls" when value is null or "true":
                    tls = true;
                    break;
                case "mode" when value is "websocket":
                    break;
                case "mode":
                    error = $"mode={value}: Sluice's v2ray-plugin speaks only mode=websocket (not quic or grpc)";
                    return null;
                case "host" when !string.IsNullOrEmpty(value):
                    host = value;
                    break;
                case "path" when !string.IsNullOrEmpty(value):
                    path = value.StartsWith('/') ? value : "/" + value;
                    break;
                case "cert" when !string.IsNullOrEmpty(value):
                    cert = value;
                    break;
                case "mux" or "loglevel" or "fast-open":
                    // Client tuning of the Go plugin: Sluice opens one WebSocket per connection (the server
                    // accepts both), logs its own way, and dials without TFO.
                    break;
                case "server":
                    error = "\"server\" is the plugin's server mode; an outbound is the client side";
                    return null;
                default:
                    error = $"\"{key}{(value is null ? "" : "=" + value)}\" is not a v2ray-plugin option Sluice knows (known: tls, mode=websocket, host, path, cert, mux, loglevel)";
                    return null;
            }
        }
        if ((host + path).Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            error = "host and path must not contain spaces or control characters";
            return null;
        }
        error = null;
        return new V2RayPluginOptions(opts, host, path, tls, cert);
    }

    /// <summary>SIP003 options: ';'-separated, "key=value" or a bare flag, '\' escapes the next character.</summary>
    internal static List<(string Key, string? Value)>? Split(string opts, out string? error)
    {
        var result = new List<(string, string?)>();
        var key = new StringBuilder();
        var value = new StringBuilder();
        bool inValue = false, escaped = false;
        foreach (char c in opts + ";")
        {
            if (escaped)
            {
                (inValue ? value : key).Append(c);
                escaped = false;
            }
            else if (c == '\\')
            {
                escaped = true;
            }
            else if (c == '=' && !inValue)
            {
                inValue = true;
            }
            else if (c == ';')
            {
                string k = key.ToString().Trim();
                if (k.Length > 0) result.Add((k, inValue ? value.ToString().Trim() : null));
                else if (inValue)
                {
                    error = "an option with a value but no name (\"=value\")";
                    return null;
                }
                key.Clear();
                value.Clear();
                inValue = false;
            }
            else
            {
                (inValue ? value : key).Append(c);
            }
        }
        error = null;
        return result;
    }

    /// <summary>Writes options back in SIP003 form, escaping what needs it (for share links).</summary>
    public static string Escape(string text) => text.Replace("\\", "\\\\").Replace(";", "\\;").Replace("=", "\\=");
}
