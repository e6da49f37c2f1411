using System.Text;
using Sluice.Core.RuleSets.Mrs;
using Sluice.Core.RuleSets.Srs;

namespace Sluice.Core.RuleSets;

/// <summary>Bytes of a rule-set file or download turned into content, in the format the config names.</summary>
public static class RuleSetBody
{
    /// <exception cref="RuleSetFormatException">The bytes are not a rule set of that format.</exception>
    public static RuleSetContent Parse(ReadOnlySpan<byte> body, RuleSetFormat format)
    {
        if (format == RuleSetFormat.Binary) return SrsReader.Read(body);
        if (format == RuleSetFormat.Mrs) return MrsReader.Read(body); // bounded by RuleSetFileBytes, as the file itself
        if (ClashBehaviorOf(format) is { } behavior) return ClashRuleProvider.Read(body, behavior);
        if (SrsReader.LooksBinary(body)) throw new RuleSetFormatException("this is a binary (.srs) rule set, but the format says \"source\": set \"format\": \"binary\"");
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            throw new RuleSetFormatException("a source rule set is JSON text, and this is not UTF-8");
        }
        return SourceRuleSet.Read(text);
    }

    /// <summary>The config's word for a format ("source", "binary", "clash-domain", …).</summary>
    public static string Name(RuleSetFormat format) => format switch
    {
        RuleSetFormat.Source => "source",
        RuleSetFormat.Binary => "binary",
        RuleSetFormat.Mrs => "mrs",
        _ => "clash-" + ClashRuleProvider.Name(ClashBehaviorOf(format)!.Value),
    };

    public static bool TryParseName(string? text, out RuleSetFormat format)
    {
        foreach (var f in Enum.GetValues<RuleSetFormat>())
        {
            if (Name(f) != text) continue;
            format = f;
            return true;
        }
        format = default;
        return false;
    }

    private static ClashBehavior? ClashBehaviorOf(RuleSetFormat format) => format switch
    {
        RuleSetFormat.ClashDomain => ClashBehavior.Domain,
        RuleSetFormat.ClashIpCidr => ClashBehavior.IpCidr,
        RuleSetFormat.ClashClassical => ClashBehavior.Classical,
        _ => null,
    };

    /// <summary>Reads a file in the given format, or by its content ("SRS" magic → binary, a zstd frame → mrs) when <paramref name="format"/> is null.</summary>
    public static RuleSetContent ReadFile(string path, RuleSetFormat? format = null, Configuration.IFileSource? files = null)
    {
        byte[] bytes;
        try
        {
            bytes = (files ?? Configuration.BoundedFileSource.Instance).Read(path, EngineLimits.Default.RuleSetFileBytes);
        }
        catch (Configuration.FileRefusedException e)
        {
            throw new RuleSetFormatException(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RuleSetFormatException($"{path}: cannot read: {e.Message}");
        }
        try
        {
            return Parse(bytes, format ?? (SrsReader.LooksBinary(bytes) ? RuleSetFormat.Binary : MrsReader.LooksBinary(bytes) ? RuleSetFormat.Mrs : RuleSetFormat.Source));
        }
        catch (RuleSetFormatException e)
        {
            throw new RuleSetFormatException($"{path}: {e.Message}");
        }
    }
}
