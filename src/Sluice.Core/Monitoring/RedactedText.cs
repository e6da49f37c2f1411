using System.Text.RegularExpressions;

namespace Sluice.Core.Monitoring;

/// <summary>
/// What may be written to a log about a link or URL: never its userinfo (a share link's base64
/// method:password, a URL's user:password) and never its query string (subscription tokens).
/// The scheme, host, port, path and #name stay, so a person can still tell which one it was.
/// </summary>
public static partial class RedactedText
{
    /// <summary>Every scheme://userinfo@ and ?query inside <paramref name="text"/>, replaced by "…".</summary>
    public static string Of(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        string noUser = UserInfo().Replace(text, "$1…@");
        return Query().Replace(noUser, "?…");
    }

    public static string Of(Uri? uri) => Of(uri?.ToString());

    /// <summary>A scheme, "//", then anything up to the last '@' before the host (no '/', '?', '#' or space in it).</summary>
    [GeneratedRegex(@"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s@]*@")]
    private static partial Regex UserInfo();

    /// <summary>A query string after a scheme://host[/path], up to a '#', a space or a quote.</summary>
    [GeneratedRegex(@"(?<=://[^\s?#""]*)\?[^#\s""]*")]
    private static partial Regex Query();
}
