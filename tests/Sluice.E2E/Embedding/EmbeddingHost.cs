using System.Diagnostics;
using System.Text.Json;
using Sluice.Testbed;

namespace Sluice.E2E.Embedding;

/// <summary>
/// host.c (an app embedding libsluice) compiled with the system's gcc against include/sluice.h and the
/// library, running in the client namespace and driven line by line (the protocol is in host.c).
/// The library: $SLUICE_LIBRARY, else artifacts/native/linux-x64/libsluice.so (scripts/build-native.sh).
/// </summary>
internal sealed class EmbeddingHost : IDisposable
{
    public const string LibraryVariable = "SLUICE_LIBRARY";
    public const string TunName = "embed0";
    public const string TunCidr = "172.19.0.1/30";
    public const string OwnerName = "tunneled-app";
    public const int OwnerPortLow = 41000;
    public const int OwnerPortHigh = 41099;
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];

    private EmbeddingHost(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Add(_stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Add(_stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The engine's log lines (the host's log callback writes them to stderr).</summary>
    public string Log
    {
        get { lock (_stderr) return string.Join('\n', _stderr); }
    }

    public IReadOnlyList<string> Output
    {
        get { lock (_stdout) return _stdout.ToArray(); }
    }

    /// <summary>Builds host.c and starts it in the client namespace: it creates and routes its TUN, then waits for commands.</summary>
    public static EmbeddingHost Start(NamespaceTestbed testbed)
    {
        string root = RepositoryRoot();
        string library = Library(root);
        string binary = Path.Combine(testbed.WorkDir, "embedding-host");
        var gcc = Exec.Run(TimeSpan.FromSeconds(120), "gcc", "-O1", "-Wall", "-Wextra", "-Werror", "-I", Path.Combine(root, "include"),
            Path.Combine(root, "tests", "Sluice.E2E", "Embedding", "host.c"), "-o", binary,
            "-L", Path.GetDirectoryName(library)!, "-lsluice", "-Wl,-rpath," + Path.GetDirectoryName(library), "-lpthread");
        if (!gcc.Ok) throw new InvalidOperationException("gcc could not build the embedding host: " + gcc);
        var process = Exec.Start(["ip", "netns", "exec", testbed.Client, binary, TunName, TunCidr, "7100",
            OwnerPortLow.ToString(), OwnerPortHigh.ToString(), OwnerName], redirectInput: true);
        var host = new EmbeddingHost(process);
        host.WaitFor("ready ", Answer);
        return host;
    }

    /// <summary>Sends one command and returns the first new stdout line starting with one of <paramref name="answers"/>.</summary>
    public string Send(string command, params string[] answers)
    {
        int from;
        lock (_stdout) from = _stdout.Count;
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        return WaitFor(answers, from, Answer);
    }

    /// <summary>sluice_status's answer, parsed.</summary>
    public JsonElement Status(bool nullHandle = false)
    {
        string line = Send(nullHandle ? "status-null" : "status", "status ");
        using var json = JsonDocument.Parse(line["status ".Length..]);
        return json.RootElement.Clone();
    }

    /// <summary>The "state" of every on_state call so far, in order.</summary>
    public IReadOnlyList<string> States => Output.Where(l => l.StartsWith("state ", StringComparison.Ordinal))
        .Select(l => JsonDocument.Parse(l["state ".Length..]).RootElement.GetProperty("state").GetString()!).ToArray();

    /// <summary>Lines of protect calls on stream sockets, "protect FD tcp ok|refused".</summary>
    public int ProtectedTcp => Output.Count(l => l.StartsWith("protect ", StringComparison.Ordinal) && l.EndsWith(" tcp ok", StringComparison.Ordinal));

    public int ProtectCalls => Output.Count(l => l.StartsWith("protect ", StringComparison.Ordinal));

    public string Transcript => "host stdout:\n" + string.Join('\n', Output) + "\nengine log:\n" + Log;

    private string WaitFor(string prefix, TimeSpan timeout) => WaitFor([prefix], 0, timeout);

    private string WaitFor(string[] prefixes, int from, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        lock (_stdout)
        {
            while (true)
            {
                for (int i = from; i < _stdout.Count; i++)
                    if (prefixes.Any(p => _stdout[i].StartsWith(p, StringComparison.Ordinal))) return _stdout[i];
                var left = timeout - clock.Elapsed;
                if (left <= TimeSpan.Zero || _process.HasExited)
                    throw new TimeoutException($"the embedding host did not answer {string.Join(" or ", prefixes)}\n{Transcript}");
                Monitor.Wait(_stdout, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
            }
        }
    }

    private static void Add(List<string> lines, string? line)
    {
        if (line is null) return;
        lock (lines)
        {
            lines.Add(line);
            Monitor.PulseAll(lines);
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Sluice.sln above {AppContext.BaseDirectory}");
    }

    private static string Library(string root)
    {
        string path = Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } given
            ? Path.GetFullPath(given)
            : Path.Combine(root, "artifacts", "native", "linux-x64", "libsluice.so");
        if (!File.Exists(path))
            throw new FileNotFoundException($"libsluice.so not found at {path}: build it with scripts/build-native.sh (or point {LibraryVariable} at one)");
        return path;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Flush();
                if (!_process.WaitForExit(10_000)) Exec.Kill(_process);
            }
        }
        catch (IOException)
        {
            Exec.Kill(_process);
        }
        _process.WaitForExit(3000);
        _process.Dispose();
    }
}
