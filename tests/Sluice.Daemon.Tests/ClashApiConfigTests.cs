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
    [InlineData("""{"access_control_allow_origin": ["http://127.0.0.1:8080/ui"]}""", "experimental.clash_api.access_control_allow_origin[0]")]
    [InlineData("""{"access_control_allow_origin": "127.0.0.1:8080"}""", "experimental.clash_api.access_control_allow_origin")]
    [InlineData("""{"external_ui_download_url": "ftp://example.com/ui.zip"}""", "experimental.clash_api.external_ui_download_url")]
    public void ClashApi_Mistakes_NameTheirPath(string clash, string path)
    {
        var errors = ConfigLoader.Validate(Base.Replace("CLASH", clash));
        Assert.Contains(errors, e => e.Path == path);
    }

    [Fact]
    public void ClashApi_DashboardFields_AreRead_AsSingBoxWritesThem()
    {
        var config = ConfigLoader.Load(Base.Replace("CLASH", """
            {"external_ui": "/srv/yacd", "external_ui_download_url": "https://example.com/yacd.zip", "external_ui_download_detour": "direct",
             "access_control_allow_origin": ["http://127.0.0.1:8080", "https://yacd.example.com/"], "access_control_allow_private_network": true}
            """));
        var dashboard = config.Experimental.ClashApi!.Dashboard;
        Assert.Equal("/srv/yacd", dashboard.ExternalUi);
        Assert.Equal("https://example.com/yacd.zip", dashboard.DownloadUrl);
        Assert.Equal("direct", dashboard.DownloadDetour);
        Assert.Equal(["http://127.0.0.1:8080", "https://yacd.example.com"], dashboard.AllowOrigins);
        Assert.True(dashboard.AllowPrivateNetwork);
        Assert.True(dashboard.ChoosesFiles);
        Assert.False(dashboard.AllowsAnyOrigin);
    }

    [Fact]
    public void ClashApi_NoDashboardFields_MeanBuiltInUi_AndEveryOrigin_AsSingBox()
    {
        var dashboard = ConfigLoader.Load(Base.Replace("CLASH", "{}")).Experimental.ClashApi!.Dashboard;
        Assert.Null(dashboard.ExternalUi);
        Assert.True(dashboard.AllowsAnyOrigin);
        Assert.False(dashboard.ChoosesFiles);
        Assert.True(ConfigLoader.Load(Base.Replace("CLASH", """{"access_control_allow_origin": []}""")).Experimental.ClashApi!.Dashboard.AllowsAnyOrigin);
        Assert.False(ClashDashboardOptions.None.AllowsAnyOrigin);
    }
}
