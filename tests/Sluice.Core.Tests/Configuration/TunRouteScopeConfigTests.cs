using Sluice.Core.Configuration;
using Sluice.Core.Tun;

namespace Sluice.Core.Tests.Configuration;

public class TunRouteScopeConfigTests
{
    private static string Tun(string fields, bool autoRoute = true) =>
        $$"""{"inbounds":[{"type":"tun","address":"172.19.0.1/30","auto_route":{{(autoRoute ? "true" : "false")}},{{fields}}}]}""";

    [Fact]
    public void UidsAndRanges_AreReadInSingBoxForms()
    {
        var tun = ConfigLoader.Load(Tun("""
            "include_uid": 0, "include_uid_range": ["1000:1999"],
            "exclude_uid": [1500, 1501], "exclude_uid_range": "60000:60010",
            "exclude_interface": ["lan1", "wg0"]
            """)).TunInbounds.Single();
        Assert.Equal([new UidRange(0, 0), new UidRange(1000, 1999)], tun.Scope.IncludeUid);
        Assert.Equal([new UidRange(1500, 1500), new UidRange(1501, 1501), new UidRange(60000, 60010)], tun.Scope.ExcludeUid);
        Assert.Equal(["lan1", "wg0"], tun.Scope.ExcludeInterface);
        Assert.Empty(tun.Scope.IncludeInterface);
    }

    [Fact]
    public void NoScopeFields_MeansEveryone()
    {
        var tun = ConfigLoader.Load(Tun("\"mtu\": 1500")).TunInbounds.Single();
        Assert.True(tun.Scope.IsEveryone);
    }

    [Theory]
    [InlineData("\"exclude_uid\": [1000, -1]", "inbounds[0].exclude_uid[1]", "out of range")]
    [InlineData("\"exclude_uid\": 4294967295", "inbounds[0].exclude_uid", "out of range")]
    [InlineData("\"include_uid\": \"1000\"", "inbounds[0].include_uid", "expected a number, got string")]
    [InlineData("\"exclude_uid_range\": [\"1000-2000\"]", "inbounds[0].exclude_uid_range[0]", "expected \"FIRST:LAST\"")]
    [InlineData("\"include_uid_range\": \"2000:1000\"", "inbounds[0].include_uid_range", "FIRST <= LAST")]
    [InlineData("\"include_uid_range\": 1000", "inbounds[0].include_uid_range", "a uid range string")]
    [InlineData("\"include_interface\": [\"eth0\", \"a/b\"]", "inbounds[0].include_interface[1]", "not a valid interface name")]
    [InlineData("\"include_interface\": \"waytoolonginterface0\"", "inbounds[0].include_interface", "not a valid interface name")]
    [InlineData("\"include_interface\": \"lan0\", \"exclude_interface\": \"lan1\"", "inbounds[0].exclude_interface", "cannot be used together with include_interface")]
    public void BadScope_NamesThePath(string fields, string path, string phrase)
    {
        var errors = ConfigLoader.Validate(Tun(fields));
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }

    [Fact]
    public void Scope_WithoutAutoRoute_IsRefused_BecauseNothingWouldEnforceIt()
    {
        var error = Assert.Single(ConfigLoader.Validate(Tun("\"exclude_uid\": 1000", autoRoute: false)));
        Assert.Equal("inbounds[0].exclude_uid", error.Path);
        Assert.Contains("needs \"auto_route\": true", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AndroidOnlyFields_AreStillNamedAsUnsupported()
    {
        var error = Assert.Single(ConfigLoader.Validate(Tun("\"include_package\": [\"com.example\"]")));
        Assert.Equal("inbounds[0].include_package", error.Path);
        Assert.Contains("not supported by Sluice", error.Message, StringComparison.Ordinal);
    }
}
