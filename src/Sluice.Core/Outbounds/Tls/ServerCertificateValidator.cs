using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// The server's identity (RFC 8446 §4.4.2–4.4.3): its certificate chain built to the pinned CA set (or the
/// system roots), its name checked against the server name, and the CertificateVerify signature over the
/// transcript checked with the leaf's key (ECDSA, RSA-PSS, Ed25519). No revocation fetches: Sluice runs as
/// root and must not dial out of its own accord.
/// </summary>
internal static class ServerCertificateValidator
{
    private const string OidEcPublicKey = "1.2.840.10045.2.1";
    private const string OidRsa = "1.2.840.113549.1.1.1";
    private const string OidEd25519 = "1.3.101.112";

    public static void ValidateChain(IReadOnlyList<byte[]> chainDer, Tls13ClientOptions options)
    {
        try
        {
            ValidateLoadedChain(chainDer, options);
        }
        catch (CryptographicException e)
        {
            throw new TlsException($"the server's certificate does not parse ({e.Message})", TlsAlert.BadCertificate, e);
        }
    }

    private static void ValidateLoadedChain(IReadOnlyList<byte[]> chainDer, Tls13ClientOptions options)
    {
        using var leaf = X509CertificateLoader.LoadCertificate(chainDer[0]);
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = options.Time.GetUtcNow().UtcDateTime;
        policy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1")); // id-kp-serverAuth
        for (int i = 1; i < chainDer.Count; i++) policy.ExtraStore.Add(X509CertificateLoader.LoadCertificate(chainDer[i]));
        if (options.TrustedRoots is { } roots)
        {
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.AddRange(roots);
        }
        try
        {
            if (!chain.Build(leaf)) throw new TlsException(Describe(chain.ChainStatus, options), ChainAlert(chain.ChainStatus));
        }
        finally
        {
            foreach (var element in chain.ChainElements) element.Certificate.Dispose();
            foreach (var extra in policy.ExtraStore) extra.Dispose();
        }
        if (!leaf.MatchesHostname(options.ServerName))
            throw new TlsException($"certificate is not valid for {options.ServerName} (it names {leaf.GetNameInfo(X509NameType.DnsName, false)})", TlsAlert.BadCertificate);
    }

    /// <summary>
    /// Verifies the server's CertificateVerify <paramref name="signature"/> under <paramref name="scheme"/>; with
    /// <paramref name="keys"/>, an ECDSA or RSA key parsed for the same leaf before is used again (parsing it costs
    /// OpenSSL 3 about three times the verification).
    /// </summary>
    public static bool VerifySignature(ReadOnlySpan<byte> leafDer, ushort scheme, ReadOnlySpan<byte> transcriptHash, ReadOnlySpan<byte> signature,
        ServerKeyCache? keys = null)
    {
        try
        {
            return VerifyLoadedSignature(leafDer, scheme, transcriptHash, signature, keys);
        }
        catch (CryptographicException e)
        {
            throw new TlsException($"the server's certificate key does not parse ({e.Message})", TlsAlert.BadCertificate, e);
        }
    }

    private static bool VerifyLoadedSignature(ReadOnlySpan<byte> leafDer, ushort scheme, ReadOnlySpan<byte> transcriptHash, ReadOnlySpan<byte> signature,
        ServerKeyCache? keys)
    {
        // §4.4.3: 64 spaces, the context string, a zero byte, then the transcript hash.
        const string context = "TLS 1.3, server CertificateVerify";
        var content = new byte[64 + context.Length + 1 + transcriptHash.Length];
        content.AsSpan(0, 64).Fill(0x20);
        Encoding.ASCII.GetBytes(context, content.AsSpan(64));
        transcriptHash.CopyTo(content.AsSpan(64 + context.Length + 1));
        var (algorithm, key) = SubjectPublicKey(leafDer);
        switch (scheme)
        {
            case 0x0807 when algorithm == OidEd25519 && key.Length == Ed25519.PublicKeySize && signature.Length == Ed25519.SignatureSize:
                return Ed25519.Verify(signature.ToArray(), 0, key, 0, content, 0, content.Length);
            case 0x0403 or 0x0503 or 0x0603 when algorithm == OidEcPublicKey:
            {
                var hash = scheme switch { 0x0403 => HashAlgorithmName.SHA256, 0x0503 => HashAlgorithmName.SHA384, _ => HashAlgorithmName.SHA512 };
                var lease = ServerKeyCache.Take(keys, leafDer, static cert => cert.GetECDsaPublicKey());
                try
                {
                    return lease.Key is ECDsa ecdsa && ecdsa.VerifyData(content, signature, hash, DSASignatureFormat.Rfc3279DerSequence);
                }
                finally
                {
                    ServerKeyCache.Return(keys, lease);
                }
            }
            case 0x0804 or 0x0805 or 0x0806 when algorithm == OidRsa:
            {
                var hash = scheme switch { 0x0804 => HashAlgorithmName.SHA256, 0x0805 => HashAlgorithmName.SHA384, _ => HashAlgorithmName.SHA512 };
                var lease = ServerKeyCache.Take(keys, leafDer, static cert => cert.GetRSAPublicKey());
                try
                {
                    return lease.Key is RSA rsa && rsa.VerifyData(content, signature, hash, RSASignaturePadding.Pss);
                }
                finally
                {
                    ServerKeyCache.Return(keys, lease);
                }
            }
            default:
                throw new TlsException($"the server signed with scheme 0x{scheme:x4}, which does not fit its {algorithm} key or Sluice does not verify", TlsAlert.IllegalParameter);
        }
    }

    /// <summary>The leaf's SubjectPublicKeyInfo algorithm OID and key bits, read from the DER (works for Ed25519 too).</summary>
    public static (string Algorithm, byte[] Key) SubjectPublicKey(ReadOnlySpan<byte> certificateDer)
    {
        var certificate = OpenDer(certificateDer);
        try
        {
            var tbs = certificate.ReadSequence();
            if (tbs.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0, true))) tbs.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0, true));
            tbs.ReadIntegerBytes(); // serialNumber
            tbs.ReadSequence(); // signature
            tbs.ReadSequence(); // issuer
            tbs.ReadSequence(); // validity
            tbs.ReadSequence(); // subject
            var spki = tbs.ReadSequence();
            var algorithm = spki.ReadSequence().ReadObjectIdentifier();
            return (algorithm, spki.ReadBitString(out _));
        }
        catch (AsnContentException e)
        {
            throw NotDer(e);
        }
    }

    /// <summary>The certificate's outer signatureValue (what Reality replaces with an HMAC).</summary>
    public static byte[] SignatureValue(ReadOnlySpan<byte> certificateDer)
    {
        var certificate = OpenDer(certificateDer);
        try
        {
            certificate.ReadSequence(); // tbsCertificate
            certificate.ReadSequence(); // signatureAlgorithm
            return certificate.ReadBitString(out _);
        }
        catch (AsnContentException e)
        {
            throw NotDer(e);
        }
    }

    private static AsnReader OpenDer(ReadOnlySpan<byte> certificateDer)
    {
        try
        {
            return new AsnReader(certificateDer.ToArray(), AsnEncodingRules.DER).ReadSequence();
        }
        catch (AsnContentException e)
        {
            throw NotDer(e);
        }
    }

    private static TlsException NotDer(AsnContentException e) =>
        new($"the server's certificate is not valid DER ({e.Message})", TlsAlert.BadCertificate, e);

    private static string Describe(X509ChainStatus[] statuses, Tls13ClientOptions options)
    {
        var flags = statuses.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
            return options.TrustedRoots is null ? "certificate not signed by a CA the system trusts" : "certificate not signed by the configured CA";
        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0) return "certificate expired or not yet valid";
        if ((flags & X509ChainStatusFlags.NotValidForUsage) != 0) return "certificate not valid for a TLS server";
        return "certificate chain invalid: " + string.Join("; ", statuses.Select(s => s.StatusInformation.Trim()));
    }

    private static byte ChainAlert(X509ChainStatus[] statuses) =>
        statuses.Any(s => s.Status is X509ChainStatusFlags.UntrustedRoot or X509ChainStatusFlags.PartialChain) ? TlsAlert.UnknownCa
        : statuses.Any(s => s.Status == X509ChainStatusFlags.NotTimeValid) ? TlsAlert.CertificateExpired
        : TlsAlert.BadCertificate;
}
