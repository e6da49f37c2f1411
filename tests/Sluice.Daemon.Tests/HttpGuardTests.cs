using System.Net;
using Microsoft.AspNetCore.Http;

namespace Sluice.Daemon.Tests;

/// <summary>The HTTP guard's Host and Origin rules for a listener on every address (external_controller 0.0.0.0:9090).</summary>
public sealed class HttpGuardTests
{
    private static async Task<int> Status(IPEndPoint listener, string host, string? origin = null, string method = "GET")
    {
        var guard = new HttpGuard(ApiSecret.FromValue("right-secret"), HttpGuard.HostsFor(listener), null, HttpGuard.AnyAddressPort(listener));
        var context = new DefaultHttpContext();
        context.Connection.LocalIpAddress = IPAddress.Parse("192.168.1.5");
        context.Connection.LocalPort = listener.Port;
        context.Request.Method = method;
        context.Request.Host = new HostString(host);
        context.Request.Path = "/proxies";
        context.Request.Headers.Authorization = "Bearer right-secret";
        if (origin is not null) context.Request.Headers.Origin = origin;
        context.Response.Body = new MemoryStream();
        await guard.InvokeAsync(context, c =>
        {
            c.Response.StatusCode = 200;
            return Task.CompletedTask;
        });
        return context.Response.StatusCode;
    }

    private static readonly IPEndPoint AnyV4 = new(IPAddress.Any, 9090);

    [Theory]
    [InlineData("192.168.1.5:9090")]
    [InlineData("127.0.0.1:9090")]
    [InlineData("[fd00::5]:9090")]
    public async Task AnyAddressListener_AnswersItsAddressesByLiteral(string host)
    {
        Assert.Equal(200, await Status(AnyV4, host));
        Assert.Equal(200, await Status(new IPEndPoint(IPAddress.IPv6Any, 9090), host));
    }

    [Theory]
    [InlineData("rebind.example:9090")]
    [InlineData("192.168.1.5:8080")]
    [InlineData("1.2:9090")]
    [InlineData("0x7f.0.0.1:9090")]
    public async Task AnyAddressListener_RefusesNames_OtherPorts_AndOddLiterals(string host) =>
        Assert.Equal(403, await Status(AnyV4, host));

    [Fact]
    public async Task LoopbackListener_StillRefusesOtherAddresses() =>
        Assert.Equal(403, await Status(new IPEndPoint(IPAddress.Loopback, 9090), "192.168.1.5:9090"));

    [Fact]
    public async Task PageServedFromTheHostItCalls_IsOwnOrigin_OthersAreNot()
    {
        // The daemon's own /ui opened over the LAN: its fetches and WebSockets carry that origin.
        Assert.Equal(200, await Status(AnyV4, "192.168.1.5:9090", origin: "http://192.168.1.5:9090", method: "DELETE"));
        Assert.Equal(403, await Status(AnyV4, "192.168.1.5:9090", origin: "http://192.168.1.6:9090", method: "DELETE"));
        Assert.Equal(403, await Status(AnyV4, "192.168.1.5:9090", origin: "http://evil.example", method: "DELETE"));
    }
}
