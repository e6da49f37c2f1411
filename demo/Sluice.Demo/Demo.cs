using System.Diagnostics;
using Sluice.Testbed;

namespace Sluice.Demo;

/// <summary>
/// `sluice demo` (this program, `sluice-demo`): builds the namespace testbed and shows, with real processes, per-app routing:
/// 1. two copies of curl with different process names reach the same server: one allowed, one rejected;
/// 2. a third reaches an address carved out by route_exclude_address, so it never enters the TUN;
/// 3. the engine's log lines for each flow are shown, then everything is torn down.
/// </summary>
internal static class Demo
{
    private static int Main(string[] args)
    {
        if (args.Length > 0)
        {
            Console.Error.WriteLine("usage: sluice demo (no options; needs root, builds and removes its own namespaces)");
            return 2;
        }
        try
        {
            return Run();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"sluice demo: {e.Message}");
            return 1;
        }
    }

    private static int Run()
    {
        Console.WriteLine("building the testbed: namespaces client + router joined by a veth pair ...");
        using var testbed = NamespaceTestbed.Create();
        string allowed = testbed.CopyProgram("curl", "curl-allowed");
        string blocked = testbed.CopyProgram("curl", "curl-blocked");
        string bypass = testbed.CopyProgram("curl", "curl-bypass");
        string config = $$"""
            {
              "log": {"level": "info"},
              "inbounds": [{
                "type": "tun", "tag": "tun-in", "interface_name": "sluice0",
                "address": ["172.19.0.1/30", "fdfe:dcba:9876::1/126"],
                "auto_route": true,
                "route_exclude_address": ["{{NamespaceTestbed.RouterV4}}/32"]
              }],
              "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "block", "tag": "block"}],
              "route": {
                "rules": [{"process_name": "curl-blocked", "action": "reject"}],
                "final": "direct"
              }
            }
            """;
        Console.WriteLine("starting sluice in the client namespace with this config:");
        Console.WriteLine(config);
        var engine = testbed.StartEngine(config).WaitStarted();

        string server = $"http://{NamespaceTestbed.ServerV4}:{NamespaceTestbed.HttpPort}/whoami";
        string lan = $"http://{NamespaceTestbed.RouterV4}:{NamespaceTestbed.HttpPort}/whoami";
        Console.WriteLine();
        Show(testbed, engine, "curl-allowed", allowed, server, "curl-allowed");
        Show(testbed, engine, "curl-blocked", blocked, server, "curl-blocked");
        Show(testbed, engine, "curl-bypass ", bypass, lan, "curl-bypass");

        Console.WriteLine();
        Console.WriteLine("stopping sluice (SIGTERM) ...");
        engine.Signal(Exec.SigTerm);
        engine.WaitForExit(TimeSpan.FromSeconds(5));
        var rules = testbed.RunInClient(TimeSpan.FromSeconds(5), "ip", "rule", "show");
        Console.WriteLine($"policy rules left in the client namespace after stop:\n{Indent(rules.Stdout)}");
        Console.WriteLine("tearing the testbed down.");
        return 0;
    }

    private static void Show(NamespaceTestbed testbed, EngineProcess engine, string label, string program, string url, string comm)
    {
        var watch = Stopwatch.StartNew();
        var result = testbed.RunInClient(TimeSpan.FromSeconds(20), program, "-sS", "--max-time", "10", url);
        watch.Stop();
        string outcome = result.Ok
            ? $"HTTP 200, the server saw source {result.Stdout.Trim()}"
            : $"failed after {watch.ElapsedMilliseconds} ms: {result.Stderr.Trim()}";
        Console.WriteLine($"[{label}] {url}");
        Console.WriteLine($"    {outcome}");
        Thread.Sleep(200);
        var seen = engine.Lines.Where(l => l.Contains(comm, StringComparison.Ordinal) && l.Contains("=>", StringComparison.Ordinal)).ToList();
        Console.WriteLine(seen.Count == 0
            ? "    sluice saw no flow from it (the destination is excluded from the TUN)"
            : $"    sluice: {seen[^1][(seen[^1].IndexOf(' ') + 1)..]}");
    }

    private static string Indent(string text) =>
        string.Join('\n', text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => "    " + l));
}
