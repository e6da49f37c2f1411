using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.Importing;

/// <summary>wireguard:// share links and Clash <c>type: wireguard</c> proxies as WireGuard endpoints.</summary>
public sealed class WireGuardLinkTests
{
    private const string Private = "YNXtAzepDqRv9H52osJVDQnznT5AL11eVKLTyPd6ngQ=";
    private const string Public = "Z1XXLsKYkYxuiYjJIkRvtIKFepCYHTgON+GwPq7SOV4=";
    private const string Psk = "31aIhAPwktDGpH4JDhA8GNvjFXEf/a6+UaQRyOAiyfM=";

    /// <summary>The link v2rayN writes for a Cloudflare WARP profile (keys percent-encoded, reserved as numbers).</summary>
    private const string WarpLink = "wireguard://YNXtAzepDqRv9H52osJVDQnznT5AL11eVKLTyPd6ngQ%3D@162.159.192.1:2408/?publickey=Z1XXLsKYkYxuiYjJIkRvtIKFepCYHTgON%2BGwPq7SOV4%3D"
        + "&reserved=209,98,59&address=172.16.0.2/32,fd01:5ca1:ab1e::2/128&mtu=1280#WARP%20HK";

    [Fact]
    public void WarpLink_BecomesAnEndpoint_WithOnePeer()
    {
        var endpoint = ShareLinks.Parse(WarpLink, "x");

        var config = ConfigLoader.Load(SubscriptionBody.RenderConfig([endpoint]));
        var wg = Assert.Single(config.Outbounds.OfType<WireGuardEndpointOptions>());
        Assert.Equal("WARP HK", wg.Tag);
        Assert.Equal(Private, wg.PrivateKey);
        Assert.Equal(1280, wg.Mtu);
        Assert.Equal(["172.16.0.2/32", "fd01:5ca1:ab1e::2/128"], wg.Address.Select(a => a.ToString()));
        var peer = Assert.Single(wg.Peers);
        Assert.Equal(Public, peer.PublicKey);
        Assert.Equal(new byte[] { 209, 98, 59 }, peer.Reserved);
        Assert.Equal(["0.0.0.0/0", "::/0"], peer.AllowedIps.Select(a => a.ToString()));
        // The rendered config's group and final reach it.
        Assert.Equal("proxy", config.Route.Final);
    }

    [Theory]
    [InlineData(WarpLink)]
    [InlineData($"wireguard://{Private}@[2001:db8::7]:51820?publickey={Public}&presharedkey={Psk}&address=10.7.0.2&keepalive=25&allowedips=10.7.0.0/24,192.168.50.0/24&reserved=AAEC#office")]
    public void Link_WrittenBack_ReimportsToTheSameEndpoint(string link)
    {
        var first = ShareLinks.Parse(link, "x");
        string written = ShareLinkWriter.Write(first)!;
        var second = ShareLinks.Parse(written, "y");

        Assert.True(JsonNode.DeepEquals(first, second), $"{first.ToJsonString()}\n{written}\n{second.ToJsonString()}");
        Assert.Empty(ConfigLoader.Validate($$"""{"endpoints":[{{first.ToJsonString()}}]}"""));
    }

    [Fact]
    public void ImportLinks_OfAConfig_WritesItsEndpoints_AndNamesWhatALinkCannotCarry()
    {
        string config = $$"""
            {"endpoints": [
              {"type": "wireguard", "tag": "home", "address": ["10.9.0.2/32"], "private_key": "{{Private}}", "listen_port": 51821,
               "peers": [{"address": "198.51.100.4", "port": 51820, "public_key": "{{Public}}", "allowed_ips": ["0.0.0.0/0", "::/0"]}]},
              {"type": "wireguard", "tag": "mesh", "address": ["10.8.0.2/32"], "private_key": "{{Private}}",
               "peers": [{"address": "198.51.100.5", "port": 51820, "public_key": "{{Public}}", "allowed_ips": ["10.8.0.0/24"]},
                         {"address": "198.51.100.6", "port": 51820, "public_key": "{{Psk}}", "allowed_ips": ["10.8.1.0/24"]}]}]}
            """;
        var notes = new List<string>();

        string links = ShareLinkWriter.WriteAll(config, notes);

        var endpoint = ShareLinks.Parse(links.Trim(), "x");
        Assert.Equal("198.51.100.4", (string?)endpoint["peers"]![0]!["address"]);
        Assert.Contains(notes, n => n.Contains("\"home\"", StringComparison.Ordinal) && n.Contains("listen_port", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("\"mesh\" (wireguard) has no share-link form", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData($"wireguard://{Private}@192.0.2.1:51820?address=10.0.0.2/32", "publickey (the server's public key) is missing")]
    [InlineData($"wireguard://{Private}@192.0.2.1:51820?publickey={Public}", "address (this end's tunnel address")]
    [InlineData($"wireguard://not-a-key@192.0.2.1:51820?publickey={Public}&address=10.0.0.2", "the private key before '@' is not a WireGuard key")]
    [InlineData($"wireguard://{Private}@192.0.2.1:51820?publickey={Public}&address=10.0.0.2&reserved=1,2", "reserved \"1,2\" is not three numbers 0..255")]
    [InlineData($"wireguard://{Private}@192.0.2.1:51820?publickey={Public}&address=10.0.0.2&jc=4&jmin=40", "query key \"jc\" is not supported by Sluice")]
    [InlineData($"wireguard://{Private}@192.0.2.1:51820?publickey={Public}&address=10.0.0.300", "address \"10.0.0.300\" is not an address or CIDR")]
    public void BadLink_IsRefused_NamingThePart_NeverTheKey(string link, string expected)
    {
        var e = Assert.Throws<ImportException>(() => ShareLinks.Parse(link, "x"));

        Assert.Contains(expected, e.Message);
        Assert.StartsWith("wireguard:// link: ", e.Message);
        Assert.DoesNotContain(Private, e.Message);
    }

    [Fact]
    public void ClashWireGuard_OnePeerForm_BecomesAnEndpoint_OfAWholeConfig()
    {
        string yaml = $$"""
            proxies:
              - name: warp
                type: wireguard
                server: 162.159.192.1
                port: 2408
                ip: 172.16.0.2
                ipv6: fd01:5ca1:ab1e::2
                private-key: {{Private}}
                public-key: {{Public}}
                reserved: "0WI7"
                mtu: 1280
                udp: true
              - name: ss
                type: ss
                server: 192.0.2.9
                port: 8388
                cipher: aes-128-gcm
                password: pw
                dialer-proxy: warp
            proxy-groups:
              - {name: out, type: select, proxies: [warp, ss]}
            rules:
              - MATCH,out
            """;

        var result = ClashYaml.ParseConfig(yaml, "c.yaml");

        var config = ConfigLoader.Load(result.Json);
        var wg = Assert.Single(config.Outbounds.OfType<WireGuardEndpointOptions>());
        Assert.Equal(["172.16.0.2/32", "fd01:5ca1:ab1e::2/128"], wg.Address.Select(a => a.ToString()));
        Assert.Equal(new byte[] { 209, 98, 59 }, Assert.Single(wg.Peers).Reserved);
        Assert.Equal(1280, wg.Mtu);
        Assert.Equal("warp", JsonNode.Parse(result.Json)!["outbounds"]!.AsArray().Single(o => (string?)o!["tag"] == "ss")!["detour"]!.GetValue<string>());
        Assert.DoesNotContain(result.Notes, n => n.Contains("warp", StringComparison.Ordinal));
    }

    [Fact]
    public void ClashWireGuard_PeersForm_KeepsEachPeer()
    {
        string yaml = $$"""
            proxies:
              - name: mesh
                type: wireguard
                ip: 10.8.0.2/24
                private-key: {{Private}}
                peers:
                  - {server: 198.51.100.5, port: 51820, public-key: {{Public}}, allowed-ips: ['10.8.0.0/24'], persistent-keepalive: 25}
                  - {server: 198.51.100.6, port: 51821, public-key: {{Psk}}, pre-shared-key: {{Psk}}, allowed-ips: ['10.8.1.0/24']}
            """;

        var endpoint = Assert.Single(ClashYaml.Parse(yaml, "c.yaml").Outbounds);

        var config = ConfigLoader.Load(new JsonObject { ["endpoints"] = new JsonArray(endpoint.DeepClone()) }.ToJsonString());
        var wg = Assert.Single(config.Outbounds.OfType<WireGuardEndpointOptions>());
        Assert.Equal(2, wg.Peers.Count);
        Assert.Equal(51821, wg.Peers[1].Port);
        Assert.Equal(Psk, wg.Peers[1].PreSharedKey);
        Assert.Equal(TimeSpan.FromSeconds(25), wg.Peers[0].PersistentKeepalive);
    }

    [Theory]
    [InlineData("amnezia-wg-option: {jc: 4, jmin: 40, jmax: 70}", "amnezia-wg-option")]
    [InlineData("remote-dns-resolve: true", "remote-dns-resolve is not supported by Sluice")]
    [InlineData("udp: false", "udp: false is not supported for WireGuard")]
    [InlineData("interface-name: eth1", "interface-name is not supported for WireGuard")]
    public void ClashWireGuard_WithAFieldSluiceCannotHonour_IsLeftOutWithANote(string field, string expected)
    {
        string yaml = $"""
            proxies:
              - name: ok
                type: socks5
                server: 192.0.2.1
                port: 1080
              - name: wg
                type: wireguard
                server: 192.0.2.2
                port: 51820
                ip: 10.0.0.2
                private-key: {Private}
                public-key: {Public}
                {field}
            """;

        var result = ClashYaml.Parse(yaml, "c.yaml");

        Assert.Single(result.Outbounds);
        var note = Assert.Single(result.Notes);
        Assert.StartsWith("c.yaml: line 6: \"wg\" skipped: ", note);
        Assert.Contains(expected, note);
    }
    /// <summary>A provider's base64 subscription mixing link kinds, as v2rayN exports one.</summary>
    [Fact]
    public void MixedSubscription_PutsTheWireGuardLineInEndpoints_AndTheGroupReachesEveryServer()
    {
        string body = string.Join('\n',
            "ss://YWVzLTEyOC1nY206cHc@192.0.2.1:8388#ss%20one",
            "tuic://eyJhZGQiOiIxOTIuMC4yLjIifQ==",
            WarpLink,
            "trojan://pw@tj.example:443?security=tls&sni=tj.example#tj",
            "socks5://u:p@192.0.2.5:1080#socks");
        string base64 = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(body));

        var servers = SubscriptionBody.Parse(base64, "sub");
        var config = ConfigLoader.Load(SubscriptionBody.RenderConfig(servers.Outbounds));

        Assert.Equal("WARP HK", Assert.Single(config.Outbounds.OfType<WireGuardEndpointOptions>()).Tag);
        var group = Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "proxy"));
        Assert.Equal(["ss one", "WARP HK", "tj", "socks"], group.Members);
        Assert.Equal("sub: line 2 skipped: tuic:// links are not supported by Sluice: scheme \"tuic\" is not imported (supported: ss, vless, vmess, trojan, wireguard, socks5, http)",
            Assert.Single(servers.Notes));
    }
}
