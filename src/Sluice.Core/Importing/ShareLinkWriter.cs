using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// Writes imported outbounds back as share links (`sluice import --links`): each link re-imports to the
/// same outbound. Types without a link form here are reported, not dropped.
/// </summary>
public static class ShareLinkWriter
{
    /// <summary>The link of one sing-box outbound object; throws <see cref="ImportException"/> for a type without one.</summary>
    public static string Write(JsonObject outbound) => (string?)outbound["type"] switch
    {
        "vless" => VlessLink.Write(outbound),
        "trojan" => TrojanLink.Write(outbound),
        var type => throw new ImportException($"\"{(string?)outbound["tag"]}\": a {type} outbound has no share link Sluice writes (vless, trojan)"),
    };
}
