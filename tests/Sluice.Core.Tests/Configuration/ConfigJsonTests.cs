using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;

namespace Sluice.Core.Tests.Configuration;

/// <summary>Configs Sluice writes for people keep names and keys readable, and still read back to the same text.</summary>
public sealed class ConfigJsonTests
{
    [Fact]
    public void ImportedClashConfig_KeepsEmojiAndCjkNamesAndKeysWithPlusAsTheyAre()
    {
        const string yaml = """
            proxies:
              - {name: "🇭🇰 香港 01", type: ss, server: 10.0.0.1, port: 8388, cipher: aes-128-gcm, password: "k+y/z="}
            proxy-groups:
              - {name: "节点选择", type: select, proxies: ["🇭🇰 香港 01", DIRECT]}
            rules:
              - MATCH,节点选择
            """;
        string written = ClashYaml.ParseConfig(yaml, "sub.yaml").Json;

        Assert.Contains("\"tag\": \"🇭🇰 香港 01\"", written);
        Assert.Contains("\"节点选择\"", written);
        Assert.Contains("\"k+y/z=\"", written);
        Assert.DoesNotContain("\\u", written);
    }

    [Fact]
    public void WhatJsonRequires_IsStillEscaped_AndEveryStringReadsBackUnchanged()
    {
        var random = new Random(7);
        string[] pieces = ["\"", "\\", "\n", "\t", "\r", "\u0001", "\u001f", "\u007f", "a", "+", "<", "&", "é", "香", "🇯🇵", "😀", " ", "/"];
        for (int round = 0; round < 500; round++)
        {
            string text = string.Concat(Enumerable.Range(0, random.Next(1, 12)).Select(_ => pieces[random.Next(pieces.Length)]));
            string written = new JsonObject { ["tag"] = text }.ToJsonString(ConfigJson.Readable);

            Assert.Equal(text, JsonNode.Parse(written)!["tag"]!.GetValue<string>());
            string inner = written[(written.IndexOf(':') + 3)..written.LastIndexOf('"')];
            Assert.DoesNotContain(inner, c => c < 0x20 || c == 0x7f);
        }
    }
}
