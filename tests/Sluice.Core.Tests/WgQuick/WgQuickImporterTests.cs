using System.Text.Json;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.WgQuick;

public sealed class WgQuickImporterTests
{
    private const string Key1 = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    private const string Key2 = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
    private const string Key3 = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";

    private static readonly string FullTunnel = $"""
        # a typical provider file
        [Interface]
        PrivateKey = {Key1}
        Address = 10.66.0.2/32, fd66::2/128
        DNS = 10.66.0.1
        MTU = 1420

        [Peer]
        PublicKey = {Key2}
        PresharedKey = {Key3}
        AllowedIPs = 0.0.0.0/0, ::/0
        Endpoint = 192.0.2.1:51820
        PersistentKeepalive = 25
        """;

    [Fact]
    public void FullTunnel_ImportsToAValidConfig_ThatSendsEverythingButPrivateRangesThroughTheTunnel()
    {
        var result = WgQuickImporter.Import(FullTunnel, "wg0.conf");

        var config = ConfigLoader.Load(result.Json);
        var endpoint = Assert.IsType<WireGuardEndpointOptions>(config.Outbounds.Single(o => o.Tag == "wg0"));
        Assert.Equal(["10.66.0.2/32", "fd66::2/128"], endpoint.Address.Select(a => a.ToString()));
        Assert.Equal(1420, endpoint.Mtu);
        var peer = Assert.Single(endpoint.Peers);
        Assert.Equal(("192.0.2.1", 51820, Key2, Key3), (peer.Host, peer.Port, peer.PublicKey, peer.PreSharedKey));
        Assert.Equal(TimeSpan.FromSeconds(25), peer.PersistentKeepalive);
        Assert.Equal("wg0", config.Route.Final);
        Assert.True(config.TunInbounds.Single().AutoRoute);
        // DNS = 10.66.0.1: asked through the tunnel, every port-53 query hijacked to it.
        Assert.Single(config.Dns.Servers);
        Assert.Contains("10.66.0.1", result.Json);
        Assert.Contains("\"detour\": \"wg0\"", result.Json);
        Assert.Contains("hijack-dns", result.Json);
        Assert.Empty(result.Notes);
    }

    [Fact]
    public void SplitTunnel_RoutesOnlyAllowedIpsThroughTheTunnel()
    {
        string text = FullTunnel.Replace("AllowedIPs = 0.0.0.0/0, ::/0", "AllowedIPs = 10.66.0.0/24");

        var config = ConfigLoader.Load(WgQuickImporter.Import(text, "office.conf").Json);

        Assert.Equal("direct", config.Route.Final);
        using var doc = JsonDocument.Parse(WgQuickImporter.Import(text, "office.conf").Json);
        var rule = doc.RootElement.GetProperty("route").GetProperty("rules").EnumerateArray().Single(r => r.TryGetProperty("outbound", out _));
        Assert.Equal("office", rule.GetProperty("outbound").GetString());
        Assert.Equal("10.66.0.0/24", rule.GetProperty("ip_cidr")[0].GetString());
    }

    [Theory]
    [InlineData("PrivateKey = {K1}", "PrivateKey = nope", "wg0.conf:3: PrivateKey is not a WireGuard key")]
    [InlineData("Address = 10.66.0.2/32, fd66::2/128", "Address = 10.66.0.300/32", "wg0.conf:4: Address: \"10.66.0.300/32\" is not an address or CIDR")]
    [InlineData("MTU = 1420", "MTU = big", "wg0.conf:6: MTU = big is not a number")]
    [InlineData("Endpoint = 192.0.2.1:51820", "Endpoint = 192.0.2.1", "wg0.conf:12: Endpoint = 192.0.2.1: expected host:port")]
    [InlineData("Endpoint = 192.0.2.1:51820", "Endpoint = 192.0.2.1:99999", "wg0.conf:12: Endpoint port = 99999 is not a number")]
    [InlineData("PersistentKeepalive = 25", "Keepalive = 25", "wg0.conf:13: unknown key Keepalive in [Peer]")]
    [InlineData("[Peer]", "[Peers]", "wg0.conf:8: unknown section [Peers]")]
    [InlineData("MTU = 1420", "MTU 1420", "wg0.conf:6: expected `Key = Value`")]
    public void BadLine_IsReportedWithFileAndLine(string original, string broken, string expected)
    {
        string text = FullTunnel.Replace("{K1}", Key1).Replace(original.Replace("{K1}", Key1), broken);

        var error = Assert.Throws<ImportException>(() => WgQuickImporter.Import(text, "wg0.conf"));

        Assert.StartsWith(expected, error.Message);
    }

    [Fact]
    public void MissingPeer_IsAnError()
    {
        string text = FullTunnel[..FullTunnel.IndexOf("[Peer]", StringComparison.Ordinal)];
        var error = Assert.Throws<ImportException>(() => WgQuickImporter.Import(text, "wg0.conf"));
        Assert.Equal("wg0.conf: no [Peer] section", error.Message);
    }

    [Fact]
    public void ShellHooks_AreSkippedWithANote()
    {
        string text = FullTunnel.Replace("MTU = 1420", "PostUp = iptables -A FORWARD -j ACCEPT");
        var result = WgQuickImporter.Import(text, "wg0.conf");
        Assert.Contains(result.Notes, n => n.StartsWith("wg0.conf:6: PostUp", StringComparison.Ordinal));
        ConfigLoader.Load(result.Json);
    }
}
