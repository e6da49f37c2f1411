using System.Diagnostics;
using Sluice.Hosting.Linux;

namespace Sluice.Testbed;

/// <summary>
/// Two network namespaces joined by a veth pair, always torn down:
/// <list type="bullet">
/// <item>client: where Sluice and the apps run; its only link is <c>eth0</c> (10.200.0.2, fd00:200::2);</item>
/// <item>router: the "internet" (10.200.0.1, fd00:200::1, plus server addresses 203.0.113.10 and
/// 2001:db8:113::10 on its loopback) with an HTTP server, a UDP echo and a TCP line echo.</item>
/// </list>
/// Addresses repeat across testbeds; only namespace names are unique, so testbeds can run side by side.
/// </summary>
public sealed class NamespaceTestbed : IDisposable
{
    public const string ClientV4 = "10.200.0.2";
    public const string RouterV4 = "10.200.0.1";
    public const string ClientV6 = "fd00:200::2";
    public const string RouterV6 = "fd00:200::1";
    public const string ServerV4 = "203.0.113.10";
    public const string ServerV6 = "2001:db8:113::10";
    public const string ClientInterface = "eth0";
    public const int HttpPort = 8080;
    public const int UdpEchoPort = 7007;
    public const int LineEchoPort = 9000;

    private const string Prefix = "sluice-tb-";
    private static int _counter;

    // A test class whose constructor throws is never disposed by xunit: every testbed still alive when
    // the test process exits is torn down then, so nothing it made outlives the run.
    private static readonly List<NamespaceTestbed> Live = [];

    static NamespaceTestbed() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        NamespaceTestbed[] left;
        lock (Live) left = [.. Live];
        foreach (var testbed in left) testbed.Dispose();
    };

    private readonly List<Process> _processes = [];
    private readonly List<string> _extraNamespaces = [];
    private readonly List<string> _hostPaths = [];
    private bool _disposed;

    private NamespaceTestbed(string name)
    {
        Client = name + "-c";
        Router = name + "-r";
        // A fresh private folder (mktemp -d): never one that exists, so nobody can plant peer.py or the
        // configs the root-run peers and engine read. 0711: the uid-held probes may read their script by name.
        WorkDir = Directory.CreateTempSubdirectory(name + ".").FullName;
        File.SetUnixFileMode(WorkDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        lock (Live) Live.Add(this);
    }

    /// <summary>
    /// A file outside the namespaces that a process of this testbed creates on the host and leaves when it is
    /// killed (wireguard-go's UAPI socket under /run/wireguard): removed with the testbed.
    /// </summary>
    public void RemoveAtDispose(string hostPath)
    {
        lock (_hostPaths) _hostPaths.Add(hostPath);
    }

    /// <summary>
    /// The resolv.conf that processes in <paramref name="ns"/> (one of this testbed's namespaces) see:
    /// `ip netns exec` bind-mounts /etc/netns/&lt;ns&gt;/resolv.conf. Removed with the testbed.
    /// </summary>
    public void SetResolvConf(string ns, string content)
    {
        if (ns != Client && ns != Router) throw new ArgumentException($"{ns} is not a namespace of this testbed", nameof(ns));
        string dir = Path.Combine("/etc/netns", ns);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "resolv.conf"), content);
    }

    /// <summary>The client namespace (Sluice and the apps).</summary>
    public string Client { get; }

    /// <summary>The router namespace (the servers).</summary>
    public string Router { get; }

    /// <summary>A scratch folder removed with the testbed; the HTTP server serves its <c>www</c> folder.</summary>
    public string WorkDir { get; }

    public string WwwDir => Path.Combine(WorkDir, "www");

    public static NamespaceTestbed Create(bool startPeers = true)
    {
        RequireRoot();
        RemoveStale();
        var testbed = new NamespaceTestbed($"{Prefix}{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}");
        try
        {
            testbed.Build(startPeers);
            return testbed;
        }
        catch
        {
            testbed.Dispose();
            throw;
        }
    }

    private void Build(bool startPeers)
    {
        Directory.CreateDirectory(WwwDir);
        Exec.Check("ip", "netns", "add", Client);
        Exec.Check("ip", "netns", "add", Router);
        Exec.Check("ip", "link", "add", ClientInterface, "netns", Client, "type", "veth", "peer", "name", "eth0", "netns", Router);
        foreach (var (ns, v4, v6) in new[] { (Client, ClientV4, ClientV6), (Router, RouterV4, RouterV6) })
        {
            Exec.Check("ip", "-n", ns, "link", "set", "lo", "up");
            Exec.Check("ip", "-n", ns, "addr", "add", v4 + "/24", "dev", "eth0");
            Exec.Check("ip", "-n", ns, "addr", "add", v6 + "/64", "dev", "eth0", "nodad");
            Exec.Check("ip", "-n", ns, "link", "set", "eth0", "up");
        }
        Exec.Check("ip", "-n", Router, "addr", "add", ServerV4 + "/32", "dev", "lo");
        Exec.Check("ip", "-n", Router, "addr", "add", ServerV6 + "/128", "dev", "lo");
        Exec.Check("ip", "-n", Client, "route", "add", "default", "via", RouterV4);
        Exec.Check("ip", "-n", Client, "-6", "route", "add", "default", "via", RouterV6);
        if (!startPeers) return;

        string script = Path.Combine(WorkDir, "peer.py");
        using (var resource = typeof(NamespaceTestbed).Assembly.GetManifestResourceStream("peer.py")!)
        using (var file = File.Create(script))
            resource.CopyTo(file);
        File.WriteAllText(Path.Combine(WwwDir, "hello.txt"), "hello from the router namespace\n");
        var peers = StartIn(Router, "python3", script, "serve", WwwDir, HttpPort.ToString(), UdpEchoPort.ToString(), LineEchoPort.ToString(),
            ServerV4, ServerV6, RouterV4, RouterV6);
        string? line = peers.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult(); // python3 starting under a loaded 2-core box: a bound, not a promise
        if (line != "ready") throw new InvalidOperationException($"testbed peers did not start: {peers.StandardError.ReadToEnd()}");
    }

    public string PeerScript => Path.Combine(WorkDir, "peer.py");

    /// <summary>An address in the router namespace that the client cannot reach directly (see <see cref="AddHiddenServer"/>).</summary>
    public const string HiddenV4 = "198.51.100.10";

    /// <summary>
    /// Adds <see cref="HiddenV4"/> to the router's loopback (the HTTP server answers on it, plus a UDP echo on
    /// <see cref="UdpEchoPort"/>) and drops everything the client's own address sends to it, so only a proxy
    /// running in the router namespace reaches it: a flow that arrives proves it went through the proxy.
    /// </summary>
    public void AddHiddenServer()
    {
        Exec.Check("ip", "-n", Router, "addr", "add", HiddenV4 + "/32", "dev", "lo");
        Exec.Check("ip", "netns", "exec", Router, "nft", "add table inet sluice_tb_hidden; "
            + "add chain inet sluice_tb_hidden input { type filter hook input priority 0; }; "
            + $"add rule inet sluice_tb_hidden input iifname \"eth0\" ip daddr {HiddenV4} drop");
        var echo = StartIn(Router, "python3", PeerScript, "udpecho", HiddenV4, UdpEchoPort.ToString());
        string? line = echo.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult(); // python3 starting under a loaded 2-core box: a bound, not a promise
        if (line != "ready") throw new InvalidOperationException($"hidden UDP echo did not start: {echo.StandardError.ReadToEnd()}");
    }

    /// <summary>The address of the server namespace <see cref="AddDelayedServer"/> made with this index.</summary>
    public static string DelayedServerV4(int index) => $"10.201.{index}.2";

    /// <summary>
    /// A server namespace that is <paramref name="oneWayDelayMs"/> ms away each way (this kernel has no
    /// netem qdisc, so a bridge in its own namespace holds every frame that long):
    /// router (dly&lt;index&gt;, 10.201.&lt;index&gt;.1) ⇄ delay namespace ⇄ server namespace (10.201.&lt;index&gt;.2).
    /// The router forwards to it, so the client reaches it like any internet host, and it reaches the
    /// router's servers (the hidden one included). Returns the server namespace's name.
    /// </summary>
    public string AddDelayedServer(int index, int oneWayDelayMs)
    {
        string name = Client[..^2];
        string delay = $"{name}-d{index}", server = $"{name}-s{index}", routerSide = $"dly{index}";
        foreach (var ns in new[] { delay, server })
        {
            Exec.Check("ip", "netns", "add", ns);
            lock (_extraNamespaces) _extraNamespaces.Add(ns);
            Exec.Check("ip", "-n", ns, "link", "set", "lo", "up");
        }
        Exec.Check("ip", "link", "add", "name", routerSide, "netns", Router, "type", "veth", "peer", "name", "to-router", "netns", delay);
        Exec.Check("ip", "link", "add", "name", "to-server", "netns", delay, "type", "veth", "peer", "name", "eth0", "netns", server);
        // The bridge copies frames as they are: the senders compute their checksums (no offload leaves
        // them for later) and make no frame larger than the MTU (no segmentation offload).
        foreach (var (ns, link) in new[] { (Router, routerSide), (delay, "to-router"), (delay, "to-server"), (server, "eth0") })
            Exec.Check("ip", "-n", ns, "link", "set", link, "gso_max_segs", "1", "up");
        foreach (var (ns, link) in new[] { (Router, routerSide), (server, "eth0") })
            Exec.Check("ip", "netns", "exec", ns, "ethtool", "-K", link, "tx", "off", "tso", "off", "gso", "off");
        Exec.Check("ip", "-n", Router, "addr", "add", $"10.201.{index}.1/24", "dev", routerSide);
        Exec.Check("ip", "-n", server, "addr", "add", DelayedServerV4(index) + "/24", "dev", "eth0");
        Exec.Check("ip", "-n", server, "route", "add", "default", "via", $"10.201.{index}.1");
        Exec.Check("ip", "netns", "exec", Router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        var line = StartIn(delay, "python3", PeerScript, "delayline", "to-router", "to-server", oneWayDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string? ready = line.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult(); // python3 starting under a loaded 2-core box: a bound, not a promise
        if (ready != "ready") throw new InvalidOperationException($"delay line did not start: {line.StandardError.ReadToEnd()}");
        return server;
    }

    /// <summary>Runs a command in the client namespace and waits for it.</summary>
    public ExecResult RunInClient(TimeSpan timeout, params string[] argv) => Exec.Run(timeout, ["ip", "netns", "exec", Client, .. argv]);

    public ExecResult RunInRouter(TimeSpan timeout, params string[] argv) => Exec.Run(timeout, ["ip", "netns", "exec", Router, .. argv]);

    /// <summary>Starts a long-running process in a namespace; it is killed when the testbed is disposed.</summary>
    public Process StartIn(string ns, params string[] argv)
    {
        var process = Exec.Start(["ip", "netns", "exec", ns, .. argv]);
        lock (_processes) _processes.Add(process);
        return process;
    }

    /// <summary>Starts `sluice run` in the client namespace with this config.</summary>
    public EngineProcess StartEngine(string configJson, string name = "config.json")
    {
        string path = Path.Combine(WorkDir, name);
        File.WriteAllText(path, configJson);
        var process = StartIn(Client, [.. SluiceBinary.Command(), "run", "-c", path]);
        return new EngineProcess(process);
    }

    /// <summary>Copies a program under another name, so its process name (comm) differs.</summary>
    public string CopyProgram(string program, string newName)
    {
        string source = File.Exists(program) ? program : Exec.Check("sh", "-c", $"command -v {program}").Trim();
        string target = Path.Combine(WorkDir, newName);
        File.Copy(source, target, overwrite: true);
        File.SetUnixFileMode(target, File.GetUnixFileMode(source));
        return target;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_processes)
        {
            foreach (var process in _processes)
            {
                Exec.Kill(process);
                process.WaitForExit(3000);
                process.Dispose();
            }
            _processes.Clear();
        }
        lock (Live) Live.Remove(this);
        List<string> namespaces = [Client, Router];
        lock (_extraNamespaces) namespaces.AddRange(_extraNamespaces);
        foreach (var ns in namespaces) RemoveNamespace(ns);
        lock (_hostPaths)
            foreach (var path in _hostPaths)
                File.Delete(path);
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Namespaces left by a testbed whose process died (killed test run) are removed.</summary>
    private static void RemoveStale()
    {
        var list = Exec.Run(TimeSpan.FromSeconds(10), "ip", "netns", "list");
        foreach (var line in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = line.Split(' ')[0];
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            var parts = name[Prefix.Length..].Split('-');
            if (parts.Length < 1 || !int.TryParse(parts[0], out int pid)) continue;
            if (pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}")) continue;
            RemoveNamespace(name);
        }
    }

    /// <summary>
    /// Kills what still runs in one of the testbed's namespaces (only test processes run there: children
    /// of a process killed mid-test, a daemon that forked), then deletes it and its /etc/netns folder.
    /// `ip netns del` alone would leave those processes running in a namespace nobody can name.
    /// </summary>
    private static void RemoveNamespace(string ns)
    {
        for (int round = 0; round < 3; round++)
        {
            var pids = Exec.Run(TimeSpan.FromSeconds(10), "ip", "netns", "pids", ns).Stdout
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
            if (pids.Count == 0) break;
            foreach (int pid in pids) Exec.Signal(pid, Exec.SigKill);
            Thread.Sleep(100);
        }
        Exec.Run(TimeSpan.FromSeconds(10), "ip", "netns", "del", ns);
        string etc = Path.Combine("/etc/netns", ns);
        if (Directory.Exists(etc)) Directory.Delete(etc, recursive: true);
    }

    private static void RequireRoot()
    {
        if (Environment.UserName != "root" && Exec.Run(TimeSpan.FromSeconds(5), "id", "-u").Stdout.Trim() != "0")
            throw new InvalidOperationException("the namespace testbed needs root (ip netns, veth, TUN): run as root or with sudo");
        if (Exec.Run(TimeSpan.FromSeconds(5), "sh", "-c", "command -v ip && command -v python3").ExitCode != 0)
            throw new InvalidOperationException("the testbed needs iproute2 and python3: run scripts/install.sh");
    }
}
