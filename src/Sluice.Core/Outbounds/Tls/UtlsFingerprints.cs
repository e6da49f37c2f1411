namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// The "utls.fingerprint" names sing-box accepts, and which of them Sluice's own TLS 1.3 client honours.
/// Only "chrome" is built in (<see cref="ClientHello"/>); every other name sing-box knows is mapped to it with one
/// warning per outbound, so an imported link with fp=firefox still connects (with a Chrome-shaped hello, never
/// OpenSSL's). A name sing-box does not know is a config error.
/// </summary>
internal static class UtlsFingerprints
{
    public const string Chrome = "chrome";

    /// <summary>The names sing-box documents for utls.fingerprint, "chrome" first.</summary>
    public static readonly IReadOnlyList<string> Known =
    [
        Chrome, "chrome_psk", "chrome_psk_shuffle", "chrome_padding_psk_shuffle", "chrome_pq", "chrome_pq_psk",
        "firefox", "edge", "safari", "360", "qq", "ios", "android", "random", "randomized",
    ];

    public static bool IsKnown(string name) => Known.Contains(name);

    public static bool IsHonoured(string name) => name == Chrome;
}
