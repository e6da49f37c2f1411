using Sluice.Core.Configuration;

namespace Sluice.Core.Tests.Configuration;

public class DetourConfigTests
{
    private const string Socks = """{"type":"socks","tag":"s","server":"10.0.0.1","server_port":1080}""";

    private static string Ss(string tag, string extra = "") =>
        $$"""{"type":"shadowsocks","tag":"{{tag}}","server":"10.0.0.2","server_port":8388,"method":"aes-128-gcm","password":"p"{{extra}}}""";

    private static IReadOnlyList<ConfigError> Validate(string outbounds, string rest = "") =>
        ConfigLoader.Validate($$"""{"outbounds":[{{outbounds}}]{{rest}}}""");

    [Fact]
    public void Detour_ToAnotherOutbound_IsRead()
    {
        var config = ConfigLoader.Load($$"""{"outbounds":[{{Ss("ss", ",\"detour\":\"s\"")}},{{Socks}}]}""");
        var ss = Assert.IsType<ShadowsocksOutboundOptions>(config.Outbounds[0]);
        Assert.Equal("s", ss.Server.Detour);
        Assert.Null(ss.Server.DomainResolver);
    }

    [Theory]
    [InlineData("""{"type":"http","tag":"h","server":"10.0.0.3","server_port":3128,"detour":"s"}""")]
    [InlineData("""{"type":"socks","tag":"t","server":"10.0.0.3","server_port":1080,"detour":"s"}""")]
    public void Detour_IsAccepted_ByEveryProxyType(string outbound) =>
        Assert.Empty(Validate($"{outbound},{Socks}"));

    [Fact]
    public void Detour_ToUnknownTag_NamesThePath()
    {
        var error = Assert.Single(Validate(Ss("ss", ",\"detour\":\"nope\"")));
        Assert.Equal("outbounds[0].detour", error.Path);
        Assert.Contains("no outbound has tag \"nope\"", error.Message);
    }

    [Fact]
    public void Detour_ToItself_IsRefused()
    {
        var error = Assert.Single(Validate($"{Socks},{Ss("ss", ",\"detour\":\"ss\"")}"));
        Assert.Equal("outbounds[1].detour", error.Path);
        Assert.Contains("cannot be its own detour", error.Message);
    }

    [Fact]
    public void DetourLoop_OfTwo_IsOneErrorNamingTheCycle()
    {
        var error = Assert.Single(Validate($"{Ss("a", ",\"detour\":\"b\"")},{Ss("b", ",\"detour\":\"a\"")}"));
        Assert.Equal("outbounds[0].detour", error.Path);
        Assert.Contains("detour loop a -> b -> a", error.Message);
    }

    [Fact]
    public void DetourLoop_ThroughAGroupMember_IsFound()
    {
        var error = Assert.Single(Validate($$"""{{Ss("a", ",\"detour\":\"g\"")}},{"type":"selector","tag":"g","outbounds":["a","s"]},{{Socks}}"""));
        Assert.Equal("outbounds[0].detour", error.Path);
        Assert.Contains("detour loop a -> g -> a", error.Message);
    }

    [Fact]
    public void Group_AsDetour_AndHoldingDetouredMembers_IsFine() =>
        Assert.Empty(Validate($$"""{{Ss("a", ",\"detour\":\"g\"")}},{"type":"urltest","tag":"g","outbounds":["s","t"]},{{Socks}},{"type":"socks","tag":"t","server":"10.0.0.4","server_port":1080,"detour":"s"},{"type":"selector","tag":"all","outbounds":["a","t"]}"""));

    [Fact]
    public void DetourChain_WithoutLoop_IsFine() =>
        Assert.Empty(Validate($"{Ss("a", ",\"detour\":\"b\"")},{Ss("b", ",\"detour\":\"s\"")},{Socks}"));

    [Theory]
    [InlineData(",\"routing_mark\":7", "outbounds[0].routing_mark")]
    [InlineData(",\"bind_interface\":\"eth0\"", "outbounds[0].bind_interface")]
    public void Detour_WithOwnSocketFields_IsRefused(string field, string path)
    {
        var error = Assert.Single(Validate($"{Ss("ss", ",\"detour\":\"s\"" + field)},{Socks}"));
        Assert.Equal(path, error.Path);
        Assert.Contains("cannot be combined with \"detour\"", error.Message);
    }

    [Fact]
    public void Detour_WithConnectTimeout_IsFine() =>
        Assert.Empty(Validate($"{Ss("ss", ",\"detour\":\"s\",\"connect_timeout\":\"2s\"")},{Socks}"));

    [Fact]
    public void Direct_RefusesDetour_SayingWhy()
    {
        var errors = Validate($$"""{"type":"direct","detour":"s"},{{Socks}}""");
        var error = Assert.Single(errors);
        Assert.Equal("outbounds[0].detour", error.Path);
        Assert.Contains("connects from the host itself", error.Message);
    }

    [Fact]
    public void Direct_RefusesDomainResolver()
    {
        var error = Assert.Single(Validate("""{"type":"direct","domain_resolver":"local"}""", ""","dns":{"servers":[{"type":"local","tag":"local"}]}"""));
        Assert.Equal("outbounds[0].domain_resolver", error.Path);
        Assert.Contains("not supported by Sluice yet for direct", error.Message);
    }

    [Theory]
    [InlineData("\"local\"")]
    [InlineData("{\"server\":\"local\"}")]
    public void DomainResolver_StringOrObject_IsRead(string value)
    {
        string dns = """{"servers":[{"type":"local","tag":"local"}]}""";
        var config = ConfigLoader.Load($$"""{"outbounds":[{{Ss("ss", ",\"domain_resolver\":" + value)}}],"dns":{{dns}}}""");
        Assert.Equal("local", Assert.IsType<ShadowsocksOutboundOptions>(config.Outbounds[0]).Server.DomainResolver);
    }

    [Theory]
    [InlineData("\"nope\"", "local", "outbounds[0].domain_resolver", "no DNS server has tag \"nope\" (servers: local)")]
    [InlineData("\"fake\"", "fakeip", "outbounds[0].domain_resolver", "fakeip")]
    [InlineData("{\"server\":\"local\",\"strategy\":\"fastest\"}", "local", "outbounds[0].domain_resolver.strategy", "unknown strategy \"fastest\"")]
    [InlineData("{}", "local", "outbounds[0].domain_resolver.server", "required")]
    public void DomainResolver_Bad_NamesThePath(string resolver, string serverType, string path, string phrase)
    {
        string tag = serverType == "fakeip" ? "fake" : "local";
        var error = Assert.Single(Validate(Ss("ss", $",\"domain_resolver\":{resolver}"), $$$""","dns":{"servers":[{"type":"{{{serverType}}}","tag":"{{{tag}}}"}]}"""));
        Assert.Equal(path, error.Path);
        Assert.Contains(phrase, error.Message);
    }

    [Fact]
    public void ResolverReachedThroughTheOutboundItself_IsALoop()
    {
        // ss's server is a name resolved by "remote", which is asked through ss: neither could start.
        string ss = """{"type":"shadowsocks","tag":"ss","server":"ss.example","server_port":8388,"method":"aes-128-gcm","password":"p","domain_resolver":"remote"}""";
        var error = Assert.Single(Validate(ss, ""","dns":{"servers":[{"type":"udp","tag":"remote","server":"9.9.9.9","detour":"ss"}]}"""));
        Assert.Equal("outbounds[0].domain_resolver", error.Path);
        Assert.Contains("loop ss -> ss", error.Message);
    }

    [Fact]
    public void ResolverLoop_AppliesTo_TheDefaultDomainResolver_ButNotToAddresses()
    {
        string named = """{"type":"socks","tag":"s","server":"socks.example","server_port":1080}""";
        string dns = ""","dns":{"servers":[{"type":"udp","tag":"remote","server":"9.9.9.9","detour":"s"}]},"route":{"default_domain_resolver":"remote"}""";
        Assert.Equal("outbounds[0].domain_resolver", Assert.Single(Validate(named, dns)).Path);
        Assert.Empty(Validate(Socks, dns));
    }
}
