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
/// SslStream builds the chain with <see cref="ChainPolicy"/> before it asks <see cref="Accepts"/>; that build is the
/// check (no second one). With the system's trust, a chain is built against the whole store once; the root it ended at
/// is then the only anchor for <see cref="EngineLimits.TlsSystemAnchorReuse"/> (a build against every system root cost
/// ~1.2 ms of CPU per connection, against one ~0.3 ms), and a chain that does not reach it is built against the whole
/// store again before it is refused, so what is accepted is what the system's store accepts, except that a root
/// removed from it meanwhile counts until the anchor's time is up.
/// </summary>
internal sealed class TlsTrust
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private readonly X509Certificate2Collection? _pinned;
    private readonly X509Certificate2Collection? _systemRoots;
    private readonly string _name;
    private readonly bool _insecure;
    private readonly TimeProvider _time;
    private readonly TimeSpan _anchorReuse;
    private volatile Anchors? _anchors;

    /// <param name="systemRoots">Null: the system's store. Tests stand a CA set in for it.</param>
    public TlsTrust(string name, bool insecure, X509Certificate2Collection? pinned, TimeProvider? time = null,
        TimeSpan? anchorReuse = null, X509Certificate2Collection? systemRoots = null)
    {
        _name = name;
        _insecure = insecure;
        _pinned = pinned;
        _time = time ?? TimeProvider.System;
        _anchorReuse = anchorReuse ?? EngineLimits.Default.TlsSystemAnchorReuse;
        _systemRoots = systemRoots;
    }

    /// <summary>The system roots this outbound's servers chained to, checked alone until <see cref="Until"/>.</summary>
    private sealed record Anchors(X509Certificate2Collection Roots, DateTimeOffset Until);

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
    /// The chain policy SslStream builds its chain with, new for each connection (SslStream adds the server's
    /// intermediates to its ExtraStore and serverAuth to its ApplicationPolicy). "insecure": no root (the build is
    /// SslStream's and cannot be skipped; against no root it is the cheapest); pinned: those roots only; else the
    /// anchors of <see cref="TlsTrust"/> while their time lasts, or null (the system's store).
    /// </summary>
    public X509ChainPolicy? ChainPolicy()
    {
        if (_insecure) return CustomRoots(null, downloads: false);
        if (_pinned is not null) return CustomRoots(_pinned, downloads: true);
        if (_anchors is { } anchors && _time.GetUtcNow() < anchors.Until) return CustomRoots(anchors.Roots, downloads: false);
        return _systemRoots is null ? null : CustomRoots(_systemRoots, downloads: true);
    }

    /// <summary>The roots the chain of this outbound is checked against alone now (tests).</summary>
    internal X509Certificate2Collection? AnchorsInUse =>
        _anchors is { } anchors && _time.GetUtcNow() < anchors.Until ? anchors.Roots : null;

    private static X509ChainPolicy CustomRoots(X509Certificate2Collection? roots, bool downloads)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = !downloads,
        };
        if (roots is not null) policy.CustomTrustStore.AddRange(roots);
        return policy;
    }

    /// <summary>
    /// Checks one server certificate, given the chain SslStream built with <see cref="ChainPolicy"/> and its verdict;
    /// <paramref name="refusal"/> says why when it is refused.
    /// </summary>
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
        bool chained = (errors & (SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0 && presented is not null;
        if (_pinned is not null)
        {
            if (!chained)
            {
                refusal = $"the certificate of {leaf.Subject} is not signed by the pinned CA ({ChainStatus(presented)})";
                return false;
            }
        }
        else if (chained)
        {
            Remember(presented!);
        }
        else if (!ChainsToSystemRoot(leaf, presented, out string status))
        {
            refusal = $"the certificate of {leaf.Subject} is not trusted by the system's CAs ({status}); pin its CA with \"certificate_path\", or set \"insecure\"";
            return false;
        }
        if (!leaf.MatchesHostname(_name, allowWildcards: true, allowCommonName: false))
        {
            refusal = $"the certificate of {leaf.Subject} is not for \"{_name}\" (set \"server_name\" to a name it holds)";
            return false;
        }
        return true;
    }

    /// <summary>
    /// The own TLS client's check of a server's chain (DER, leaf first), the same decision as the SslStream path's:
    /// insecure builds no chain at all; pinned, one chain against the pins; system, one against the anchors while
    /// they last (else the whole store), then <see cref="Accepts"/>. Null when accepted, else why not. No certificate is
    /// downloaded (Sluice runs as root and must not dial out of its own accord).
    /// </summary>
    public string? Refusal(IReadOnlyList<byte[]> chainDer)
    {
        if (_insecure) return null;
        using var chain = new X509Chain();
        var policy = ChainPolicy() ?? new X509ChainPolicy { RevocationMode = X509RevocationMode.NoCheck };
        policy.DisableCertificateDownloads = true;
        policy.ApplicationPolicy.Add(ServerAuth);
        X509Certificate2? leaf = null;
        try
        {
            leaf = X509CertificateLoader.LoadCertificate(chainDer[0]);
            for (int i = 1; i < chainDer.Count; i++) policy.ExtraStore.Add(X509CertificateLoader.LoadCertificate(chainDer[i]));
            chain.ChainPolicy = policy;
            var errors = chain.Build(leaf) ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors;
            return Accepts(leaf, chain, errors, out string? refusal) ? null : refusal;
        }
        catch (CryptographicException e)
        {
            return $"the server's certificate does not parse ({e.Message})";
        }
        finally
        {
            foreach (var element in chain.ChainElements) element.Certificate.Dispose();
            foreach (var extra in policy.ExtraStore) extra.Dispose();
            leaf?.Dispose();
        }
    }

    /// <summary>
    /// The chain SslStream built did not reach a root it was given (the anchors, or the whole store): built again
    /// against the whole store, as SslStream does without a policy, with the intermediates the server sent.
    /// </summary>
    private bool ChainsToSystemRoot(X509Certificate2 leaf, X509Chain? presented, out string status)
    {
        using var chain = new X509Chain();
        var policy = _systemRoots is null ? chain.ChainPolicy : CustomRoots(_systemRoots, downloads: true);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.RevocationFlag = X509RevocationFlag.ExcludeRoot;
        policy.ApplicationPolicy.Add(ServerAuth);
        if (presented is not null)
        {
            policy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span)) policy.ExtraStore.Add(element.Certificate);
        }
        chain.ChainPolicy = policy;
        bool ok = chain.Build(leaf);
        status = ok ? "" : ChainStatus(chain);
        if (ok) Remember(chain);
        return ok;
    }

    /// <summary>Keeps the root a chain that the whole store accepted ended at (the anchors' time starts with the first).</summary>
    private void Remember(X509Chain chain)
    {
        if (chain.ChainElements.Count == 0) return;
        var root = chain.ChainElements[^1].Certificate;
        var now = _time.GetUtcNow();
        var current = _anchors is { } live && now < live.Until ? live : null;
        if (current is not null && current.Roots.Any(r => r.RawDataMemory.Span.SequenceEqual(root.RawDataMemory.Span))) return;
        var roots = new X509Certificate2Collection();
        if (current is not null) roots.AddRange(current.Roots);
        roots.Add(X509CertificateLoader.LoadCertificate(root.RawDataMemory.Span));
        _anchors = new Anchors(roots, current?.Until ?? now + _anchorReuse);
    }

    private static string ChainStatus(X509Chain? chain)
    {
        if (chain is null || chain.ChainStatus.Length == 0) return "no chain";
        return string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
    }
}
