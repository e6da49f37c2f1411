using Sluice.Core.Configuration;

namespace Sluice.Core.Tests.Reality;

/// <summary>What `sluice check` says about a vless outbound with Vision and Reality.</summary>
public sealed class VisionRealityConfigTests
{
    private const string Uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";
    private const string Reality = """{ "enabled": true, "server_name": "www.example.com", "reality": { "enabled": true, "public_key": "jNXHt1yRo0vDuchQlIP6Z0ZvjT3KtzVI-T4E7RoLJS0", "short_id": "0123abcd" } }""";

    [Fact]
    public void VisionOverReality_IsAccepted()
    {
        Assert.Empty(ConfigLoader.Validate(Config($""" "flow": "xtls-rprx-vision", "tls": {Reality} """)));
    }

    [Theory]
    [InlineData("""  "flow": "xtls-rprx-vision" """, "outbounds[0].flow: \"xtls-rprx-vision\" needs \"tls\" (Vision runs inside TLS 1.3 or Reality)")]
    [InlineData("""  "flow": "xtls-rprx-vision", "tls": { "enabled": true }, "transport": { "type": "ws" } """, "outbounds[0].flow: \"xtls-rprx-vision\" needs TLS straight over TCP: no \"transport\"")]
    [InlineData("""  "flow": "xtls-rprx-direct" """, "outbounds[0].flow: \"xtls-rprx-direct\" is not a VLESS flow (\"\" or \"xtls-rprx-vision\")")]
    [InlineData("""  "tls": { "enabled": true, "reality": { "enabled": true, "public_key": "AAAA" } } """, "outbounds[0].tls.reality.public_key: is not 32 bytes of base64url (the server's X25519 public key, 43 characters)")]
    public void BadVisionOrReality_NamesTheField(string fields, string error)
    {
        Assert.Contains(error, ConfigLoader.Validate(Config(fields)).Select(e => e.ToString()));
    }

    private static string Config(string fields) =>
        $$"""{ "outbounds": [ { "type": "vless", "tag": "v", "server": "192.0.2.1", "server_port": 443, "uuid": "{{Uuid}}", {{fields}} } ] }""";
}
