using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A subscription provider for tests: python3 http.server wrapped in TLS in the router namespace, with a
/// self-signed certificate made by `openssl req` (a config trusts it through ca_file), serving list.txt.
/// </summary>
internal sealed class SubscriptionSite
{
    public const int Port = 8443;
    public static readonly string Url = $"https://{NamespaceTestbed.RouterV4}:{Port}/list.txt";
    private readonly NamespaceTestbed _testbed;
    private readonly string _site;
    private readonly string _key;

    public SubscriptionSite(NamespaceTestbed testbed)
    {
        _testbed = testbed;
        _site = Path.Combine(testbed.WorkDir, "site");
        Directory.CreateDirectory(_site);
        Cert = Path.Combine(testbed.WorkDir, "sub-cert.pem");
        _key = Path.Combine(testbed.WorkDir, "sub-key.pem");
        Exec.Check("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", $"/CN={NamespaceTestbed.RouterV4}",
            "-addext", $"subjectAltName=IP:{NamespaceTestbed.RouterV4}", "-keyout", _key, "-out", Cert);
    }

    /// <summary>The certificate for the config's ca_file.</summary>
    public string Cert { get; }

    /// <summary>An ss:// share link to an ss-server the tests start in the router namespace.</summary>
    public static string Link(string name, int port) =>
        $"ss://aes-128-gcm:{ProxyPeers.Password}@{NamespaceTestbed.RouterV4}:{port}#{name}";

    /// <summary>What the provider serves now; replaced by rename, so the server never sends half a body.</summary>
    public void Serve(string body)
    {
        string temp = Path.Combine(_site, ".list.tmp");
        File.WriteAllText(temp, body);
        File.Move(temp, Path.Combine(_site, "list.txt"), overwrite: true);
    }

    /// <summary>Headers ("Name: value" lines) sent with list.txt from now on.</summary>
    public void Headers(string lines) => File.WriteAllText(Path.Combine(_site, "list.txt.headers"), lines);

    /// <summary>Headers ("Name: value" lines) a fetch of list.txt must carry from now on, else the site answers 403.</summary>
    public void Requires(string lines) => File.WriteAllText(Path.Combine(_site, "list.txt.requires"), lines);

    /// <summary>The headers of each request for list.txt since <see cref="Requires"/>, one block per request.</summary>
    public string Seen => File.Exists(Path.Combine(_site, "list.txt.seen")) ? File.ReadAllText(Path.Combine(_site, "list.txt.seen")) : "";

    public System.Diagnostics.Process Start() => new HttpsSite(_testbed, _site, Cert, _key, NamespaceTestbed.RouterV4, Port).Start();
}
