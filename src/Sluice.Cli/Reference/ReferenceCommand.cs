using Sluice.Cli.Commands;

namespace Sluice.Cli.Reference;

/// <summary>`sluice completions bash|zsh|fish` and `sluice man`: what scripts/package.sh ships, rendered from the command table.</summary>
internal static class ReferenceCommand
{
    public static int Completions(CommandLine line)
    {
        line.AllowOnly();
        string shell = line.Arguments.FirstOrDefault() ?? throw new UsageException("completions needs a shell: bash, zsh or fish");
        if (shell is not ("bash" or "zsh" or "fish")) throw new UsageException($"completions {shell}: expected bash, zsh or fish");
        Console.Write(ShellCompletion.Render(shell));
        return 0;
    }

    public static int Man(CommandLine line)
    {
        line.AllowOnly();
        // SOURCE_DATE_EPOCH (reproducible builds) fixes the date; else today.
        var date = long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), out long epoch)
            ? DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeSeconds(epoch).UtcDateTime)
            : DateOnly.FromDateTime(DateTime.UtcNow);
        Console.Write(ManPage.Render(VersionCommand.Version, date));
        return 0;
    }
}
