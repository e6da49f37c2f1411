using System.Text.Json;
using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>
/// Exit codes of the verbs that talk to the daemon (scripts compare them):
/// 0 done / connected; 1 the daemon refused or failed (its message printed); 2 wrong command line;
/// 3 the daemon is not reachable; 4 `status`: the engine is not connected (disconnected, connecting, reconnecting).
/// </summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Unreachable = 3;
    public const int NotConnected = 4;
}

/// <summary>
/// How the CLI reaches the daemon: its Unix socket (--socket, else SLUICE_SOCKET, else /run/sluice/sluice.sock),
/// or HTTP when --api URL is given (the bearer secret from --secret-file, else SLUICE_SECRET_FILE, else
/// /etc/sluice/secret).
/// </summary>
internal static class DaemonConnection
{
    public static readonly string[] Options = ["--socket", "--api", "--secret-file"];

    public static ControlClient Open(CommandLine line)
    {
        if (line.Options.TryGetValue("--api", out var api))
        {
            if (!Uri.TryCreate(api, UriKind.Absolute, out var uri)) throw new UsageException($"--api {api} is not a URL (http://127.0.0.1:1777)");
            string secretFile = line.Options.GetValueOrDefault("--secret-file") ?? DaemonPaths.SecretFile;
            string secret;
            try
            {
                secret = File.ReadAllText(secretFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"cannot read the API secret {secretFile}: {e.Message} (pass --secret-file, or use the Unix socket)");
            }
            return ControlClient.ForHttp(uri, secret);
        }
        return ControlClient.ForUnixSocket(line.Options.GetValueOrDefault("--socket") ?? DaemonPaths.Socket);
    }

    /// <summary>Runs a verb's body, turning the daemon's absence and its refusals into one line and an exit code.</summary>
    public static int Run(CommandLine line, Func<ControlClient, Task<int>> body)
    {
        using var client = Open(line);
        try
        {
            return body(client).GetAwaiter().GetResult();
        }
        catch (DaemonUnreachableException e)
        {
            Console.Error.WriteLine($"sluice: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (ApiHttpException e)
        {
            Console.Error.WriteLine($"sluice: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    /// <summary>Prints an envelope's failure as one line (or the JSON with --json); the exit code for it.</summary>
    public static int Report(CommandLine line, Envelope envelope, Action<Envelope> printOk)
    {
        if (line.SetFlags.Contains("--json"))
        {
            Console.WriteLine(JsonSerializer.Serialize(envelope, ApiJsonContext.Default.Envelope));
            return envelope.Ok ? ExitCodes.Ok : ExitCodes.Failed;
        }
        if (!envelope.Ok)
        {
            Console.Error.WriteLine($"sluice: {envelope.Message} (code {envelope.Code})");
            return ExitCodes.Failed;
        }
        printOk(envelope);
        return ExitCodes.Ok;
    }

    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.0} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / 1048576.0:0.0} MiB",
        _ => $"{bytes / 1073741824.0:0.00} GiB",
    };

    public static string Rate(long bytesPerSecond) => Bytes(bytesPerSecond) + "/s";

    public static string Ago(DateTimeOffset? at)
    {
        if (at is not { } t) return "never";
        var span = DateTimeOffset.UtcNow - t;
        return span.TotalSeconds < 90 ? $"{span.TotalSeconds:0}s ago" : span.TotalMinutes < 90 ? $"{span.TotalMinutes:0}m ago" : $"{span.TotalHours:0.0}h ago";
    }

    /// <summary>Left-aligned columns, two spaces apart.</summary>
    public static void Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, TextWriter? output = null)
    {
        output ??= Console.Out;
        var all = new List<IReadOnlyList<string>> { header };
        all.AddRange(rows);
        var widths = header.Select((_, i) => all.Max(r => i < r.Count ? r[i].Length : 0)).ToArray();
        foreach (var row in all)
            output.WriteLine(string.Join("  ", row.Select((cell, i) => i == row.Count - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
    }
}
