using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>
/// The terminal half of `sluice up --pick`: asks the daemon for the selector groups' members (probed now),
/// prints them numbered with protocol, "TCP only" / "TCP+UDP" and latency, reads a number from stdin and
/// picks that member for this session. A lane marked "TCP only" refuses protected apps' UDP (ICMP port
/// unreachable, counted in `sluice status`): the table says so before the user chooses.
/// </summary>
internal static class ServerPicker
{
    /// <summary>The envelope of the pick (status data), or null when there was nothing to choose.</summary>
    public static async Task<Envelope?> AskAsync(ControlClient client)
    {
        Console.WriteLine("measuring the servers…");
        var answer = await client.CoreAsync("servers");
        if (!answer.Ok) return answer;
        var choices = answer.DataAs<ServerChoicesData>()!.Choices;
        if (choices.Count == 0)
        {
            Console.WriteLine("the config has no selector group: nothing to pick");
            return null;
        }
        DaemonConnection.Table(["#", "", "SERVER", "GROUP", "PROTOCOL", "NETWORK", "LATENCY"], choices.Select((c, i) => (IReadOnlyList<string>)[
            (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), c.Selected ? "*" : "", c.Member, c.Group, c.Type,
            c.Udp ? "TCP+UDP" : "TCP only", c.DelayMs is { } d ? $"{d} ms" : c.Error is null ? "-" : "unreachable"]));
        while (true)
        {
            Console.Write($"server for this session [1-{choices.Count}, enter keeps *]: ");
            string? input = Console.ReadLine();
            if (input is null) return null; // end of input: keep what the daemon chose
            input = input.Trim();
            if (input.Length == 0) return null;
            if (int.TryParse(input, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= choices.Count)
            {
                var choice = choices[n - 1];
                return await client.CoreAsync("pick", new Dictionary<string, string> { ["group"] = choice.Group, ["server"] = choice.Member });
            }
            Console.WriteLine($"\"{input}\" is not one of 1-{choices.Count}");
        }
    }
}
