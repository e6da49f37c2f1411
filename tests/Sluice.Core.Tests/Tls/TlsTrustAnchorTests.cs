using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Core.Outbounds.Tls;
using Sluice.Tests;

namespace Sluice.Core.Tests.Tls;

/// <summary>
/// What TlsTrust accepts through a real SslStream handshake (an in-process SslStream server), now that SslStream's own
/// chain build is the only check, and that with the system's trust the root a first chain ended at is checked alone for
/// a while. Two test CAs stand in for the system's store, so the first connection is checked against "the whole store".
/// </summary>
public sealed class TlsTrustAnchorTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task SystemTrust_AfterAFirstAcceptedChain_ChecksTheNextAgainstItsRootAlone()
    {
        var trust = SystemTrust([_pki.RootA, _pki.RootB], new FakeClock());

        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));
        Assert.Equal(_pki.RootA.Thumbprint, Assert.Single(trust.AnchorsInUse!).Thumbprint);
        Assert.Equal(X509ChainTrustMode.CustomRootTrust, trust.ChainPolicy()!.TrustMode);
        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));
    }

    [Fact]
    public async Task SystemTrust_AChainToAnotherSystemRoot_IsCheckedAgainstTheWholeStore_AndAccepted()
    {
        var trust = SystemTrust([_pki.RootA, _pki.RootB], new FakeClock());
        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));

        Assert.Null(await HandshakeAsync(trust, _pki.LeafB));
        Assert.Equal(2, trust.AnchorsInUse!.Count);
    }

    [Fact]
    public async Task SystemTrust_WithAnAnchorCached_ARootNotInTheStore_IsRefused()
    {
        var trust = SystemTrust([_pki.RootA], new FakeClock());
        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));

        string? refusal = await HandshakeAsync(trust, _pki.LeafB);

        Assert.Contains("the certificate of CN=localhost is not trusted by the system's CAs", refusal, StringComparison.Ordinal);
        Assert.Single(trust.AnchorsInUse!);
    }

    [Fact]
    public async Task SystemTrust_WithAnAnchorCached_AnExpiredCertificateFromThatRoot_IsRefused()
    {
        var trust = SystemTrust([_pki.RootA], new FakeClock());
        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));

        string? refusal = await HandshakeAsync(trust, _pki.ExpiredA);

        Assert.Contains("is not trusted by the system's CAs", refusal, StringComparison.Ordinal);
        Assert.Contains("expired", refusal, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SystemTrust_WithAnAnchorCached_ACertificateForAnotherName_IsRefused()
    {
        var trust = SystemTrust([_pki.RootA], new FakeClock());
        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));

        string? refusal = await HandshakeAsync(trust, _pki.OtherNameA);

        Assert.Contains("is not for \"localhost\"", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SystemTrust_AnchorsLapse_AfterTheirTime_AndTheWholeStoreChecksAgain()
    {
        var clock = new FakeClock();
        var trust = SystemTrust([_pki.RootA], clock);
        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));

        clock.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));

        Assert.Null(trust.AnchorsInUse);
        Assert.Equal(_pki.RootA.Thumbprint, Assert.Single(trust.ChainPolicy()!.CustomTrustStore).Thumbprint); // the stand-in store
        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));
        Assert.NotNull(trust.AnchorsInUse);
    }

    [Fact]
    public async Task Pinned_AnExpiredCertificateFromThePinnedCa_IsRefused()
    {
        var trust = new TlsTrust("localhost", insecure: false, [_pki.RootA]);

        string? refusal = await HandshakeAsync(trust, _pki.ExpiredA);

        Assert.Contains("is not signed by the pinned CA", refusal, StringComparison.Ordinal);
        Assert.Contains("expired", refusal, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Pinned_ACertificateForAnotherName_IsRefused()
    {
        var trust = new TlsTrust("localhost", insecure: false, [_pki.RootA]);

        Assert.Contains("is not for \"localhost\"", await HandshakeAsync(trust, _pki.OtherNameA), StringComparison.Ordinal);
        Assert.Null(await HandshakeAsync(trust, _pki.LeafA));
        Assert.Contains("is not signed by the pinned CA", await HandshakeAsync(trust, _pki.LeafB), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Insecure_AcceptsExpiredAndMisnamedCertificates()
    {
        var trust = new TlsTrust("localhost", insecure: true, null);

        Assert.Null(await HandshakeAsync(trust, _pki.ExpiredA));
        Assert.Null(await HandshakeAsync(trust, _pki.OtherNameA));
    }

    private static TlsTrust SystemTrust(X509Certificate2Collection standIn, FakeClock clock) =>
        new("localhost", insecure: false, null, clock, TimeSpan.FromMinutes(10), standIn);

    /// <summary>One handshake as TlsClient runs it: null when accepted, else TlsTrust's refusal.</summary>
    private static async Task<string?> HandshakeAsync(TlsTrust trust, X509Certificate2 serverCertificate)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        var accept = listener.AcceptTcpClientAsync();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var accepted = await accept;
        await using var server = new SslStream(accepted.GetStream());
        string? refusal = null;
        await using var tls = new SslStream(client.GetStream(), false, (_, certificate, chain, errors) => trust.Accepts(certificate, chain, errors, out refusal));
        var serving = server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = serverCertificate });
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                CertificateChainPolicy = trust.ChainPolicy(),
            }).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (System.Security.Authentication.AuthenticationException)
        {
            Assert.NotNull(refusal);
            return refusal;
        }
        finally
        {
            try
            {
                await serving.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
            {
                // The client refused the certificate.
            }
        }
        Assert.Null(refusal);
        return null;
    }

    /// <summary>Two roots, and leaves for localhost signed by them: fine, expired, and for another name.</summary>
    private sealed class TestPki : IDisposable
    {
        private readonly List<X509Certificate2> _all = [];

        public TestPki()
        {
            (RootA, var keyA) = Root("CN=Sluice Test Root A");
            (RootB, var keyB) = Root("CN=Sluice Test Root B");
            var now = DateTimeOffset.UtcNow;
            LeafA = Leaf(RootA, keyA, "localhost", now.AddDays(-1), now.AddDays(2));
            LeafB = Leaf(RootB, keyB, "localhost", now.AddDays(-1), now.AddDays(2));
            ExpiredA = Leaf(RootA, keyA, "localhost", now.AddDays(-10), now.AddDays(-2));
            OtherNameA = Leaf(RootA, keyA, "other.test", now.AddDays(-1), now.AddDays(2));
        }

        public X509Certificate2 RootA { get; }
        public X509Certificate2 RootB { get; }
        public X509Certificate2 LeafA { get; }
        public X509Certificate2 LeafB { get; }
        public X509Certificate2 ExpiredA { get; }
        public X509Certificate2 OtherNameA { get; }

        private (X509Certificate2, ECDsa) Root(string subject)
        {
            var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            var root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(30));
            _all.Add(root);
            return (X509CertificateLoader.LoadCertificate(root.RawData), key);
        }

        private X509Certificate2 Leaf(X509Certificate2 issuer, ECDsa issuerKey, string name, DateTimeOffset from, DateTimeOffset until)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=" + (name == "localhost" ? "localhost" : name), key, HashAlgorithmName.SHA256);
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName(name);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            var serial = new byte[8];
            RandomNumberGenerator.Fill(serial);
            serial[0] &= 0x7f;
            using var signed = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), from, until, serial);
            var leaf = signed.CopyWithPrivateKey(key);
            _all.Add(leaf);
            return leaf;
        }

        public void Dispose()
        {
            foreach (var certificate in _all) certificate.Dispose();
        }
    }
}
