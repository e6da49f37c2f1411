using System.Text.Json;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// `sluice daemon` in a testbed's client namespace, with its socket, secret and state under the testbed's
/// folder (parallel daemons never collide), HTTP on 127.0.0.1:1777 inside the namespace. API calls go
/// through real curl in the namespace, over the Unix socket or HTTP.
/// </summary>
internal sealed class DaemonUnderTest
{
    private readonly NamespaceTestbed _testbed;

    private DaemonUnderTest(NamespaceTestbed testbed, EngineProcess process, string dir)
    {
        _testbed = testbed;
        Process = process;
        Dir = dir;
    }

    public EngineProcess Process { get; private set; }

    public string Dir { get; }

    public string Socket => Path.Combine(Dir, "sluice.sock");

    public string SecretFile => Path.Combine(Dir, "secret");

    public string StateDir => Path.Combine(Dir, "state");

    public string Secret => File.ReadAllText(SecretFile).Trim();

    public const string Http = "http://127.0.0.1:1777";

    public static DaemonUnderTest Start(NamespaceTestbed testbed, string? daemonConfig = null, string name = "daemon")
    {
        string dir = Path.Combine(testbed.WorkDir, name);
        Directory.CreateDirectory(dir);
        var daemon = new DaemonUnderTest(testbed, null!, dir);
        daemon.Process = daemon.Launch(daemonConfig);
        return daemon;
    }

    /// <summary>Starts (again) the daemon process with the same paths; waits for "daemon ready".</summary>
    public EngineProcess Launch(string? daemonConfig = null)
    {
        var argv = new List<string>(SluiceBinary.Command()) { "daemon", "--socket", Socket, "--secret-file", SecretFile, "--state-dir", StateDir };
        if (daemonConfig is not null) argv.AddRange(["-c", daemonConfig]);
        var process = new EngineProcess(_testbed.StartIn(_testbed.Client, [.. argv]));
        if (!process.WaitFor("daemon ready", TimeSpan.FromSeconds(40))) throw new InvalidOperationException($"the daemon did not start:\n{process.Log}");
        Process = process;
        return process;
    }

    public string WriteConfig(string json, string name = "config.json")
    {
        string path = Path.Combine(_testbed.WorkDir, name);
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>curl over the Unix socket (no secret: the socket's mode is the credential).</summary>
    public ExecResult Unix(params string[] curlArgs) =>
        _testbed.RunInClient(TimeSpan.FromSeconds(60), ["curl", "-sS", "--max-time", "50", "--unix-socket", Socket, .. curlArgs]);

    /// <summary>curl over HTTP with the bearer secret.</summary>
    public ExecResult HttpAuthed(params string[] curlArgs) =>
        _testbed.RunInClient(TimeSpan.FromSeconds(60), ["curl", "-sS", "--max-time", "50", "-H", $"Authorization: Bearer {Secret}", .. curlArgs]);

    public JsonElement Core(string action, string? paramsJson = null, bool viaHttp = false)
    {
        string body = paramsJson is null ? $$"""{"action": "{{action}}"}""" : $$"""{"action": "{{action}}", "params": {{paramsJson}}}""";
        var result = viaHttp
            ? HttpAuthed("-X", "POST", "-H", "Content-Type: application/json", "-d", body, Http + "/api/core")
            : Unix("-X", "POST", "-H", "Content-Type: application/json", "-d", body, "http://localhost/api/core");
        if (!result.Ok) throw new InvalidOperationException($"core {action}: {result}\n{Process.Log}");
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    public string State() => Core("status").GetProperty("data").GetProperty("state").GetString()!;

    public bool WaitForState(string state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (State() == state) return true;
            Thread.Sleep(200);
        }
        return false;
    }

    public JsonElement Get(string path)
    {
        var result = Unix("http://localhost" + path);
        if (!result.Ok) throw new InvalidOperationException($"GET {path}: {result}");
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    /// <summary>Runs the `sluice` CLI in the client namespace against this daemon's socket.</summary>
    public ExecResult Cli(params string[] args) =>
        _testbed.RunInClient(TimeSpan.FromSeconds(60), ["env", $"SLUICE_SOCKET={Socket}", .. SluiceBinary.Command(), .. args]);
}
