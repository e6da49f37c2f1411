using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>Reads an outbound's "tls" object (sing-box syntax); errors carry the JSON path of the field.</summary>
internal static class TlsOptionsParser
{
    private static readonly string[] Versions = ["1.0", "1.1", "1.2", "1.3"];

    /// <summary>sing-box client TLS fields Sluice does not implement; named so the error says so instead of "unknown".</summary>
    private static readonly HashSet<string> NotYet = new(StringComparer.Ordinal)
    {
        "ech", "fragment", "fragment_fallback_delay", "record_fragment", "certificate_public_key_sha256",
        "client_certificate", "client_certificate_path", "client_key", "client_key_path", "kernel_tx", "kernel_rx",
        "curve_preferences",
    };

    /// <summary>The "tls" field of <paramref name="outbound"/>; null when absent or "enabled" is not true.</summary>
    public static TlsClientOptions? Parse(ObjectReader outbound, string field = "tls")
    {
        if (outbound.Take(field) is not { } element) return null;
        if (ObjectReader.Open(element, outbound.PathOf(field), outbound.Errors) is not { } r) return null;
        bool enabled = r.Bool("enabled", false);
        if (!enabled)
        {
            // sing-box ignores the rest of a disabled tls object; so does Sluice (no unknown-field errors for it).
            foreach (var p in element.EnumerateObject()) r.Ignore(p.Name);
            return null;
        }
        string? serverName = r.String("server_name");
        bool disableSni = r.Bool("disable_sni", false);
        bool insecure = r.Bool("insecure", false);
        var alpn = r.Strings("alpn");
        var protocols = ParseVersions(r);
        var suites = ParseCipherSuites(r);
        string? pem = ParseCertificate(r);
        string? pemPath = ParseCertificatePath(r);
        if (pem is not null && pemPath is not null)
            r.Errors.Add(r.PathOf("certificate_path"), "cannot be combined with \"certificate\": pin the CA one way");
        string? fingerprint = ParseUtls(r);
        if (fingerprint is not null && !protocols.HasFlag(SslProtocols.Tls13))
            r.Errors.Add(r.PathOf("max_version"), "is below 1.3, but utls runs Sluice's own client, which speaks only TLS 1.3: remove utls or max_version");
        if (fingerprint is not null && suites.Count > 0)
            r.Errors.Add(r.PathOf("cipher_suites"), "cannot be combined with utls: the fingerprint's hello carries its own cipher suites");
        var reality = ParseReality(r);
        r.Finish(f => NotYet.Contains(f) ? "not supported by Sluice yet" : null);
        return new TlsClientOptions(serverName is { Length: 0 } ? null : serverName, disableSni, insecure, alpn, protocols, suites,
            pem, pemPath, fingerprint, reality) { Files = r.Errors.Files };
    }

    private static SslProtocols ParseVersions(ObjectReader r)
    {
        int min = Version(r, "min_version") ?? 2, max = Version(r, "max_version") ?? 3;
        if (min > max)
        {
            r.Errors.Add(r.PathOf("min_version"), $"TLS {Versions[min]} is above max_version {Versions[max]}");
            return TlsClientOptions.DefaultProtocols;
        }
        SslProtocols result = SslProtocols.None;
        for (int v = min; v <= max; v++)
        {
#pragma warning disable SYSLIB0039 // TLS 1.0/1.1 only when the config asks for them by name.
            result |= v switch { 0 => SslProtocols.Tls, 1 => SslProtocols.Tls11, 2 => SslProtocols.Tls12, _ => SslProtocols.Tls13 };
#pragma warning restore SYSLIB0039
        }
        return result;
    }

    private static int? Version(ObjectReader r, string name)
    {
        if (r.String(name) is not { } text) return null;
        int i = Array.IndexOf(Versions, text);
        if (i >= 0) return i;
        r.Errors.Add(r.PathOf(name), $"{JsonPath.Quote(text)} is not a TLS version (one of {string.Join(", ", Versions)})");
        return null;
    }

    private static IReadOnlyList<string> ParseCipherSuites(ObjectReader r)
    {
        var suites = r.Strings("cipher_suites");
        for (int i = 0; i < suites.Count; i++)
            if (!Enum.TryParse<TlsCipherSuite>(suites[i], ignoreCase: false, out _))
                r.Errors.Add($"{r.PathOf("cipher_suites")}[{i}]", $"{JsonPath.Quote(suites[i])} is not a TLS cipher suite name (e.g. TLS_AES_128_GCM_SHA256)");
        return suites;
    }

    /// <summary>"certificate": PEM text, as one string or a list of lines (sing-box accepts both).</summary>
    private static string? ParseCertificate(ObjectReader r)
    {
        var lines = r.Strings("certificate");
        if (lines.Count == 0) return null;
        string pem = string.Join('\n', lines);
        if (TlsTrust.TryLoadPem(pem, out _, out string? problem)) return pem;
        r.Errors.Add(r.PathOf("certificate"), problem!);
        return null;
    }

    private static string? ParseCertificatePath(ObjectReader r)
    {
        if (r.String("certificate_path") is not { Length: > 0 } path) return null;
        if (r.Errors.ReadText(r.PathOf("certificate_path"), path, EngineLimits.Default.PemFileBytes) is not { } pem) return null;
        if (TlsTrust.TryLoadPem(pem, out _, out string? problem)) return path;
        r.Errors.Add(r.PathOf("certificate_path"), problem!);
        return null;
    }

    private static string? ParseUtls(ObjectReader r)
    {
        if (r.Take("utls") is not { } element || ObjectReader.Open(element, r.PathOf("utls"), r.Errors) is not { } u) return null;
        bool enabled = u.Bool("enabled", false);
        string? fingerprint = u.String("fingerprint");
        u.Finish();
        if (fingerprint is { Length: > 0 } && !UtlsFingerprints.IsKnown(fingerprint))
        {
            r.Errors.Add(u.PathOf("fingerprint"), $"{JsonPath.Quote(fingerprint)} is not a uTLS fingerprint (one of {string.Join(", ", UtlsFingerprints.Known)}; only chrome is built in, the rest are sent as chrome)");
            return null;
        }
        return enabled ? (fingerprint is { Length: > 0 } ? fingerprint : UtlsFingerprints.Chrome) : null;
    }

    private static RealityOptions? ParseReality(ObjectReader r)
    {
        if (r.Take("reality") is not { } element || ObjectReader.Open(element, r.PathOf("reality"), r.Errors) is not { } x) return null;
        bool enabled = x.Bool("enabled", false);
        string? key = x.String("public_key");
        string? shortId = x.String("short_id");
        x.Finish();
        if (!enabled) return null;
        byte[]? keyBytes = null, idBytes = [];
        if (key is null)
            r.Errors.Add(x.PathOf("public_key"), "required: the Reality server's X25519 public key (base64url, 32 bytes)");
        else if ((keyBytes = DecodeBase64Url(key)) is not { Length: 32 })
            r.Errors.Add(x.PathOf("public_key"), "is not 32 bytes of base64url (the server's X25519 public key, 43 characters)");
        if (shortId is { Length: > 0 })
        {
            if (shortId.Length > 16 || shortId.Length % 2 != 0 || !shortId.All(char.IsAsciiHexDigit))
                r.Errors.Add(x.PathOf("short_id"), "is not 0 to 16 hex digits, an even number of them");
            else
                idBytes = Convert.FromHexString(shortId);
        }
        return new RealityOptions(true, keyBytes ?? [], idBytes);
    }

    private static byte[]? DecodeBase64Url(string text)
    {
        string s = text.Trim().Replace('-', '+').Replace('_', '/');
        s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
        try
        {
            return Convert.FromBase64String(s);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
