using Sluice.Core.Configuration;

namespace Sluice.Daemon.Tests;

public sealed class ClashApiConfigTests
{
    private const string Base = """{"inbounds": [{"type": "tun", "address": ["172.19.0.1/30"]}], "experimental": {"clash_api": CLASH}}""";

    [Fact]
    public void ClashApi_AddressAndSecret_AreRead()
    {
        var config = ConfigLoader.Load(Base.Replace("CLASH", """{"external_controller": "127.0.0.1:9090", "secret": "s3cret-value"}"""));
        Assert.Equal("127.0.0.1:9090", config.Experimental.ClashApi!.ExternalController);
        Assert.Equal("s3cret-value", config.Experimental.ClashApi.Secret);
        Assert.Equal("rule", config.Experimental.ClashApi.DefaultMode);
    }

    [Theory]
    [InlineData("""{"external_controller": "0.0.0.0:9090"}""", "experimental.clash_api.secret")]
    [InlineData("""{"external_controller": "example.com:9090", "secret": "long-enough"}""", "experimental.clash_api.external_controller")]
    [InlineData("""{"secret": "short"}""", "experimental.clash_api.secret")]
    [InlineData("""{"external_ui": "ui"}""", "experimental.clash_api.external_ui")]
    public void ClashApi_Mistakes_NameTheirPath(string clash, string path)
    {
        var errors = ConfigLoader.Validate(Base.Replace("CLASH", clash));
        Assert.Contains(errors, e => e.Path == path);
    }
}
