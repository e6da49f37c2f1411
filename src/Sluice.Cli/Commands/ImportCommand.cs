using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice import SOURCE [-o config.json]`: turns what a provider hands out into a Sluice config,
/// printed to stdout or written atomically to -o (on any error nothing is written).
/// Sources: a wg-quick file (wg0.conf); an ss://, vless://, vmess://, trojan://, wireguard://, socks5:// or http:// link; a subscription body
/// (base64 of share links, or plain share lines) or a Clash YAML from a file or an https:// URL; with --links
/// also a sing-box config, whose servers are printed as links.
/// </summary>
internal static class ImportCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly("--output");
        if (line.Arguments.Count != 1) throw new UsageException("import needs one source, e.g. `sluice import wg0.conf -o config.json`");
        string source = line.Arguments[0];
        string json;
        try
        {
            json = Import(source, links: line.SetFlags.Contains("--links"));
        }
        catch (ImportException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        if (line.SetFlags.Contains("--links"))
        {
            var skipped = new List<string>();
            json = Sluice.Core.Importing.ShareLinkWriter.WriteAll(json, skipped);
            foreach (var note in skipped) Console.Error.WriteLine(note);
        }
        if (line.Options.TryGetValue("--output", out var output))
        {
            WriteAtomically(output, json);
            Console.Error.WriteLine($"wrote {output}; check it with `sluice check -c {output}`");
        }
        else
        {
            Console.Out.Write(json);
        }
        return 0;
    }

    private static string Import(string source, bool links)
    {
        // A single share link given on the command line.
        if (Sluice.Core.Importing.ShareLinks.IsLink(source))
            return Sluice.Core.Importing.SubscriptionBody.RenderConfig([Sluice.Core.Importing.ShareLinks.Parse(source, "proxy-1")]);
        if (source.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            throw new ImportException($"{source}: a plain http:// list is not fetched (it could be rewritten on the way, and it carries passwords): use its https:// address, or download it and import the file");
        string text;
        try
        {
            text = source.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? Fetch(source) : File.ReadAllText(source);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImportException($"{source}: cannot read: {e.Message}");
        }
        if (text.AsSpan().TrimStart().StartsWith("{", StringComparison.Ordinal))
        {
            // A sing-box (or Sluice) config: its servers as share links, e.g. to hand them to a phone.
            if (!links) throw new ImportException($"{source}: already a config; `sluice import {source} --links` prints its servers as share links");
            return Sluice.Core.Importing.ShareLinkWriter.NormalizeConfig(text, source);
        }
        if (text.Contains("[Interface]", StringComparison.OrdinalIgnoreCase) || source.EndsWith(".conf", StringComparison.Ordinal))
        {
            var result = WgQuickImporter.Import(text, Path.GetFileName(source));
            foreach (var note in result.Notes) Console.Error.WriteLine(note);
            return result.Json;
        }
        if (Sluice.Core.Importing.SubscriptionBody.Looks(text))
        {
            var servers = Sluice.Core.Importing.SubscriptionBody.Parse(text, source);
            foreach (var note in servers.Notes) Console.Error.WriteLine(note);
            return Sluice.Core.Importing.SubscriptionBody.RenderConfig(servers.Outbounds);
        }
        if (Sluice.Core.Importing.ClashYaml.Looks(text) || source.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase)
            || source.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
        {
            // The whole Clash config: proxies, proxy-groups, rules and ports; every part not carried over is one note.
            var clash = Sluice.Core.Importing.ClashYaml.ParseConfig(text, source);
            foreach (var note in clash.Notes) Console.Error.WriteLine(note);
            return clash.Json;
        }
        throw new ImportException($"{source}: not a format Sluice imports (supported: wg-quick .conf, ss://, vless://, vmess://, trojan://, wireguard://, socks5:// and http:// links, base64 subscription bodies, Clash/mihomo YAML; with --links also a sing-box config)");
    }

    /// <summary>Fetches a subscription over HTTPS (30 s limit); failures are one line.</summary>
    private static string Fetch(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            using var response = http.GetAsync(url).GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode) throw new ImportException($"{url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            return response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new ImportException($"{url}: cannot fetch: {e.Message}");
        }
    }

    /// <summary>Write to a temporary file in the same folder, then rename: a reader never sees half a config.</summary>
    internal static void WriteAtomically(string path, string content)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            // A config holds keys and passwords: 0600, and CreateNew never follows a planted link.
            using (var stream = new FileStream(temp, new FileStreamOptions
                   {
                       Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                   }))
                stream.Write(System.Text.Encoding.UTF8.GetBytes(content));
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
