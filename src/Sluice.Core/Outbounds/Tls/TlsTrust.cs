using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// Decides whether a server's certificate is accepted:
/// 1. the chain leads to a system root, or (pinned) to one of the configured CA certificates only;
/// 2. the leaf names the server (DNS name or IP address in its subject alternative names);
/// 3. with "insecure" nothing is checked (the outbound logged that once when it was created).
/// The reason of a refusal is kept for the error message, so a person reads "not signed by the
/// pinned CA" instead of .NET's "RemoteCertificateChainErrors".
/// </summary>
internal sealed class TlsTrust
{
    private readonly X509Certificate2Collection? _pinned;
    private readonly string _name;
    private readonly bool _insecure;

    public TlsTrust(string name, bool insecure, X509Certificate2Collection? pinned)
    {
        _name = name;
        _insecure = insecure;
        _pinned = pinned;
    }

    /// <summary>Loads PEM text holding at least one certificate.</summary>
    public static bool TryLoadPem(string pem, out X509Certificate2Collection certificates, out string? problem)
    {
        certificates = [];
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            problem = $"is not PEM certificate text: {e.Message}";
            return false;
        }
        problem = certificates.Count == 0 ? "holds no \"-----BEGIN CERTIFICATE-----\" block" : null;
        return problem is null;
    }

    /// <summary>
    /// The chain policy SslStream builds its chain with, new for each connection (SslStream adds to its
    /// ApplicationPolicy). SslStream builds a chain before it asks <see cref="Accepts"/>, whatever the answer will
    /// be; with the system's trust that build costs more than the rest of the handshake's client side (OpenSSL
    /// sorts and searches a store of every system root for each chain: X509_NAME_cmp was the top symbol of a
    /// profile of connections/s). With "insecure" (nothing is checked) or a pinned CA (only those roots count)
    /// the system's roots have no say, so the chain is built against no root or the pinned ones only.
    /// Null: the system's trust (the default policy).
    /// </summary>
    public X509ChainPolicy? ChainPolicy()
    {
        if (!_insecure && _pinned is null) return null;
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = _insecure,
        };
        if (!_insecure) policy.CustomTrustStore.AddRange(_pinned!);
        return policy;
    }

    /// <summary>Checks one server certificate; <paramref name="refusal"/> says why when it is refused.</summary>
    public bool Accepts(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors, out string? refusal)
    {
        refusal = null;
        if (_insecure) return true;
        if (certificate is null)
        {
            refusal = "the server sent no certificate";
            return false;
        }
        var leaf = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
        if (_pinned is null)
        {
            if ((errors & (SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
            {
                refusal = $"the certificate of {leaf.Subject} is not trusted by the system's CAs ({ChainStatus(presented)}); pin its CA with \"certificate_path\", or set \"insecure\"";
                return false;
            }
        }
        else if (!ChainsToPinned(leaf, presented, out string status))
        {
            refusal = $"the certificate of {leaf.Subject} is not signed by the pinned CA ({status})";
            return false;
        }
        if (!leaf.MatchesHostname(_name, allowWildcards: true, allowCommonName: false))
        {
            refusal = $"the certificate of {leaf.Subject} is not for \"{_name}\" (set \"server_name\" to a name it holds)";
            return false;
        }
        return true;
    }

    private bool ChainsToPinned(X509Certificate2 leaf, X509Chain? presented, out string status)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_pinned!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        bool ok = chain.Build(leaf);
        status = ok ? "" : ChainStatus(chain);
        return ok;
    }

    private static string ChainStatus(X509Chain? chain)
    {
        if (chain is null || chain.ChainStatus.Length == 0) return "no chain";
        return string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
    }
}
