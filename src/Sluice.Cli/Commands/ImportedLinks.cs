using System.Text.Json.Nodes;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Cli.Commands;

/// <summary>`sluice import --links`: the servers of an imported config as share links, one a line.</summary>
internal static class ImportedLinks
{
    private static readonly HashSet<string> NotServers = new(StringComparer.Ordinal) { "direct", "block", "selector", "urltest", "fallback" };

    /// <summary>Servers without a link form are named on stderr; none at all is an error.</summary>
    public static string Render(string configJson)
    {
        var outbounds = JsonNode.Parse(configJson)?["outbounds"] as JsonArray ?? [];
        var lines = new List<string>();
        foreach (var node in outbounds)
        {
            if (node is not JsonObject outbound || NotServers.Contains((string?)outbound["type"] ?? "")) continue;
            try
            {
                lines.Add(ShareLinkWriter.Write(outbound));
            }
            catch (ImportException e)
            {
                Console.Error.WriteLine(e.Message);
            }
        }
        if (lines.Count == 0) throw new ImportException("no imported server can be written as a share link");
        return string.Join('\n', lines) + "\n";
    }
}
