using Sluice.Core.Configuration;

namespace Sluice.Cli.Commands;

/// <summary>`sluice check -c config.json`: exit 0 when valid, else 1 with one `path: problem` line per error.</summary>
internal static class CheckCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly("--config", "--output");
        string path = line.Require("--config", "CONFIG");
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{path}: cannot read: {e.Message}");
            return 1;
        }
        if (line.Arguments.Contains("--fix") || line.SetFlags.Contains("--fix"))
        {
            // --fix -o NEW.json: the migrated config is written (atomically), then checked like any other.
            string output = line.Options.GetValueOrDefault("--output") ?? throw new UsageException("check --fix needs -o NEW.json (the original is left as it is)");
            var (migrated, changes) = ConfigMigrator.Migrate(json);
            foreach (string change in changes) Console.WriteLine($"fixed: {change}");
            AtomicFile.Write(output, System.Text.Encoding.UTF8.GetBytes(migrated));
            Console.WriteLine($"{output}: written ({changes.Count} change(s))");
            json = migrated;
            path = output;
        }
        var errors = ConfigLoader.Validate(json);
        if (errors.Count == 0)
        {
            foreach (string notice in Notices(ConfigLoader.Load(json))) Console.WriteLine($"notice: {notice}");
            Console.WriteLine($"{path}: ok");
            return 0;
        }
        foreach (var error in errors) Console.Error.WriteLine(error.ToString());
        return 1;
    }

    /// <summary>Things that work, but not the way the config's words suggest.</summary>
    private static IEnumerable<string> Notices(SluiceConfig config)
    {
        foreach (var tun in config.TunInbounds.Where(t => t.Stack is "gvisor" or "mixed"))
            yield return $"inbounds (tun {tun.Tag}): stack \"{tun.Stack}\" is served by Sluice's own stack (kernel TCP termination for proxy lanes, raw packets for WireGuard); nothing to change";
        if (config.Experimental.CacheFile is { StoreRdrcIgnored: true })
            yield return "experimental.cache_file.store_rdrc: nothing is stored: Sluice's DNS rules never reject an answer by its addresses (a rule set's ip_cidr never matches a query), so there are no rejections to remember; answers are the same as without it";
    }
}
