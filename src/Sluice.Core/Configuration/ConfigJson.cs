using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>
/// How Sluice writes JSON a person reads and edits (`import`, `check --fix`, `apps` rewrites, the cache file):
/// indented, with text as it is. The default encoder wrote a server named "🇭🇰 香港 01" and every key holding a "+"
/// as \u escapes — valid JSON, unreadable to its owner (sing-box writes UTF-8); even the relaxed encoder escapes
/// emoji. Only what JSON requires is escaped: quotes, backslashes and control characters.
/// </summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Readable = new()
    {
        WriteIndented = true,
        Encoder = ReadableEncoder.Instance,
    };

    /// <summary>Escapes what RFC 8259 §7 requires (", \, U+0000–U+001F) and DEL; every other scalar is written as is.</summary>
    private sealed class ReadableEncoder : JavaScriptEncoder
    {
        public static readonly ReadableEncoder Instance = new();

        public override int MaxOutputCharactersPerInputCharacter => 6; // \u001f

        public override bool WillEncode(int unicodeScalar) => unicodeScalar is < 0x20 or '"' or '\\' or 0x7f;

        public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
        {
            for (int i = 0; i < textLength; i++)
            {
                char c = text[i];
                if (WillEncode(c)) return i;
                if (char.IsHighSurrogate(c) && i + 1 < textLength && char.IsLowSurrogate(text[i + 1])) i++;
                else if (char.IsSurrogate(c)) return i; // a lone surrogate: escaped, not written as broken UTF-8
            }
            return -1;
        }

        public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
        {
            string escaped = unicodeScalar switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => $"\\u{unicodeScalar:x4}", // the other control characters and DEL: nothing else is encoded
            };
            numberOfCharactersWritten = 0;
            if (escaped.Length > bufferLength) return false;
            for (int i = 0; i < escaped.Length; i++) buffer[i] = escaped[i];
            numberOfCharactersWritten = escaped.Length;
            return true;
        }
    }
}
