using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Core.Tests.Tls;

/// <summary>
/// A test PKI made with the openssl CLI in a fresh temp directory (a CA, a server certificate for localhost and
/// 127.0.0.1 signed by it, and a second unrelated CA with its own certificate for those names, key type "other"), and `openssl s_server -tls1_3` processes using it:
/// OpenSSL is the independent TLS 1.3 peer the client is proven against.
/// </summary>
public sealed class OpensslPeer : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sluice-tls-");

    public OpensslPeer()
    {
        MakeCa("ca", "Sluice Test CA");
        MakeCa("other-ca", "Unrelated CA");
        foreach (var keyType in new[] { "ec", "rsa", "ed25519" }) MakeServer(keyType);
        MakeServer("ec", "other-ca", "server-other"); // the same names, signed by the unrelated CA
    }

    public string PathOf(string name) => Path.Combine(_directory.FullName, name);

    public X509Certificate2Collection Roots(string ca = "ca") => [X509CertificateLoader.LoadCertificateFromFile(PathOf(ca + ".pem"))];

    /// <summary>Starts s_server for one connection, in its default mode: the client's bytes to stdout, stdin to the client.</summary>
    /// <remarks>Without <paramref name="quiet"/>, s_server prints its state and takes commands on stdin ("K" = KeyUpdate asking for the peer's).</remarks>
    /// <param name="extra">More s_server arguments: "-groups", "P-256" forces a HelloRetryRequest for an X25519 share.</param>
    /// <param name="version">"-tls1_3" (the suite applies), or "-tls1_2" for a server that cannot speak 1.3.</param>
    /// <param name="accept">Connections s_server takes before it exits (its ticket keys live as long as the process).</param>
    public Process StartServer(int port, string cipherSuite, string keyType = "ec", bool quiet = true, string version = "-tls1_3", int accept = 1,
        params string[] extra)
    {
        var info = new ProcessStartInfo("openssl")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        string[] arguments =
        [
            "s_server", quiet ? "-quiet" : "-state", "-naccept", accept.ToString(CultureInfo.InvariantCulture), version, "-ciphersuites", cipherSuite, "-accept", $"127.0.0.1:{port}",
            "-cert", PathOf($"server-{keyType}.pem"), "-key", PathOf($"server-{keyType}.key"), .. extra,
        ];
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        var process = Process.Start(info)!;
        WaitForListener(port, process);
        return process;
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Waits for the port to be listening by reading /proc/net/tcp (a probe connect would use up -naccept 1).</summary>
    private static void WaitForListener(int port, Process process)
    {
        string needle = $"0100007F:{port:X4} 00000000:0000 0A";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (File.ReadAllText("/proc/net/tcp").Contains(needle, StringComparison.Ordinal)) return;
            if (process.HasExited) throw new InvalidOperationException("s_server exited: " + process.StandardError.ReadToEnd());
            Thread.Sleep(20);
        }
        throw new TimeoutException($"s_server did not listen on {port}");
    }

    private void MakeCa(string name, string subject) =>
        Run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", PathOf(name + ".key"),
            "-out", PathOf(name + ".pem"), "-days", "2", "-subj", "/CN=" + subject,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");

    private void MakeServer(string keyType, string ca = "ca", string? name = null)
    {
        name ??= $"server-{keyType}";
        string key = PathOf($"{name}.key"), csr = PathOf($"{name}.csr"), extensions = PathOf("server.ext");
        string[] algorithm = keyType switch
        {
            "ec" => ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "rsa" => ["-newkey", "rsa:2048"],
            _ => ["-newkey", keyType],
        };
        Run(["req", .. algorithm, "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost"]);
        File.WriteAllText(extensions, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
        Run("x509", "-req", "-in", csr, "-CA", PathOf(ca + ".pem"), "-CAkey", PathOf(ca + ".key"), "-set_serial",
            Random.Shared.Next(1, int.MaxValue).ToString(CultureInfo.InvariantCulture), "-days", "2", "-out", PathOf($"{name}.pem"), "-extfile", extensions);
    }

    private static void Run(params string[] arguments)
    {
        var info = new ProcessStartInfo("openssl") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"openssl {string.Join(' ', arguments)} failed: {error}");
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
