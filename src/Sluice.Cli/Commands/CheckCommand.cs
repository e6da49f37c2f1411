using Sluice.Core.Configuration;

namespace Sluice.Cli.Commands;

/// <summary>`sluice check -c config.json`: exit 0 when valid, else 1 with one `path: problem` line per error.</summary>
internal static class CheckCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly("--config");
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
    }
}
