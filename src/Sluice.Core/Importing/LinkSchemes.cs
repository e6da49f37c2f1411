namespace Sluice.Core.Importing;

/// <summary>
/// The schemes a provider's subscription holds. Sluice imports some; the others are recognised, so a
/// line of them is reported by line with its scheme named instead of making the body "not share links".
/// </summary>
internal static class LinkSchemes
{
    /// <summary>Proxy link schemes Sluice does not import (yet): each such line becomes a note.</summary>
    private static readonly string[] Unsupported =
        ["hysteria2", "hy2", "hysteria", "tuic", "ssr", "wg", "anytls", "juicity", "naive+https", "naive+quic", "mieru", "snell"];

    private static readonly string[] Imported = ["vless", "vmess", "trojan", "wireguard"];

    /// <summary>True when the line starts with a proxy scheme this file knows (imported or not).</summary>
    public static bool IsProxyLink(string line)
    {
        int end = line.IndexOf("://", StringComparison.Ordinal);
        if (end <= 0) return false;
        var scheme = line.AsSpan(0, end);
        foreach (var s in Imported)
            if (scheme.Equals(s, StringComparison.OrdinalIgnoreCase)) return true;
        foreach (var s in Unsupported)
            if (scheme.Equals(s, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    public static bool IsUnsupported(string scheme) => Array.IndexOf(Unsupported, scheme) >= 0;

    /// <summary>The error for a scheme Sluice cannot use; names the scheme, never the rest of the link.</summary>
    public static Outbounds.WireGuard.ImportException NotImported(string scheme) =>
        new(IsUnsupported(scheme)
            ? $"{scheme}:// links are not supported by Sluice: scheme \"{scheme}\" is not imported (supported: ss, vless, vmess, trojan, wireguard, socks5, http)"
            : $"scheme \"{scheme}\" is not imported (supported: ss, vless, vmess, trojan, wireguard, socks5, http)");
}
