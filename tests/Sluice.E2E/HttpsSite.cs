using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A folder served over HTTPS in the router namespace (python3 http.server wrapped in TLS) with a
/// self-signed certificate made by `openssl req` for the address it listens on.
/// </summary>
internal sealed class HttpsSite
{
    private readonly NamespaceTestbed _testbed;
    private readonly string _address;
    private readonly int _port;

    /// <summary>A site over an existing folder and certificate.</summary>
    public HttpsSite(NamespaceTestbed testbed, string folder, string certFile, string keyFile, string address, int port)
    {
        _testbed = testbed;
        _address = address;
        _port = port;
        Folder = folder;
        CertFile = certFile;
        KeyFile = keyFile;
    }

    public HttpsSite(NamespaceTestbed testbed, string name, string address, int port)
    {
        _testbed = testbed;
        _address = address;
        _port = port;
        Folder = Path.Combine(testbed.WorkDir, name);
        Directory.CreateDirectory(Folder);
        CertFile = Path.Combine(testbed.WorkDir, name + "-cert.pem");
        KeyFile = Path.Combine(testbed.WorkDir, name + "-key.pem");
        Exec.Check("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", $"/CN={address}",
            "-addext", $"subjectAltName=IP:{address}", "-keyout", KeyFile, "-out", CertFile);
    }

    public string Folder { get; }

    public string CertFile { get; }

    public string KeyFile { get; }

    public string Url(string file) => $"https://{_address}:{_port}/{file}";

    /// <summary>Replaces a served file by rename, so the server never sends half of it.</summary>
    public void Serve(string file, byte[] body)
    {
        string temp = Path.Combine(Folder, "." + file + ".tmp");
        File.WriteAllBytes(temp, body);
        File.Move(temp, Path.Combine(Folder, file), overwrite: true);
    }

    public System.Diagnostics.Process Start()
    {
        string script = Path.Combine(_testbed.WorkDir, "https.py");
        File.WriteAllText(script, """
            import functools, http.server, os, ssl, sys
            site, cert, key, host, port = sys.argv[1:6]
            class Handler(http.server.SimpleHTTPRequestHandler):
                # FILE.requires beside a served FILE: "Name: value" lines a request must carry, else 403 (a provider that
                # refuses clients it does not know); the request's headers are appended to FILE.seen.
                def do_GET(self):
                    target = self.translate_path(self.path)
                    if os.path.isfile(target + ".requires"):
                        with open(target + ".seen", "a") as seen:
                            seen.write("".join(f"{k}: {v}\n" for k, v in self.headers.items()) + "\n")
                        for line in open(target + ".requires"):
                            if ":" in line:
                                name, value = line.split(":", 1)
                                if self.headers.get(name.strip()) != value.strip():
                                    self.send_error(403, "unknown client")
                                    return
                    super().do_GET()
                # FILE.headers beside a served FILE: "Name: value" lines sent with it (a provider's subscription-userinfo).
                def end_headers(self):
                    extra = self.translate_path(self.path) + ".headers"
                    if os.path.isfile(extra):
                        for line in open(extra):
                            if ":" in line:
                                name, value = line.split(":", 1)
                                self.send_header(name.strip(), value.strip())
                    super().end_headers()
            handler = functools.partial(Handler, directory=site)
            server = http.server.ThreadingHTTPServer((host, int(port)), handler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            server.serve_forever()
            """);
        var process = _testbed.StartIn(_testbed.Router, "python3", script, Folder, CertFile, KeyFile, _address, _port.ToString());
        ProxyPeers.WaitListening(_testbed, _port);
        return process;
    }
}
