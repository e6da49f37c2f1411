using System.Text;
using Sluice.Core.Outbounds.Transport;

namespace Sluice.Core.Tests.Outbounds.Transport;

public sealed class HttpHeadTests
{
    private static string? Check(string head, bool upgrade) => HttpHead.Check(Encoding.ASCII.GetBytes(head), upgrade);

    [Fact]
    public void UpgradeRequest_IsAGetWithUpgradeHeaders_HostFromTheTransport()
    {
        var options = new HttpUpgradeTransportOptions("cdn.example", "/up?ed=1", [new("User-Agent", "x"), new("Upgrade", "h2c")]);

        string request = Encoding.ASCII.GetString(HttpHead.UpgradeRequest(options, "server.example:8443"));

        Assert.Equal("GET /up?ed=1 HTTP/1.1\r\nHost: cdn.example\r\nUser-Agent: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", request);
    }

    [Fact]
    public void PlainRequest_CarriesTheMethodAndPath_AsSingBoxsHttp11Form()
    {
        var options = new HttpTransportOptions([], "/p", "PUT", [], TimeSpan.Zero, TimeSpan.FromSeconds(15));

        string request = Encoding.ASCII.GetString(HttpHead.PlainRequest(options, "h.example"));

        Assert.Equal("PUT /p HTTP/1.1\r\nHost: h.example\r\nContent-Length: 0\r\n\r\n", request);
    }

    [Fact]
    public void Check_Accepts101_WithUpgradeHeadersInAnyCase()
    {
        Assert.Null(Check("HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nUPGRADE: WebSocket\r\n\r\n", upgrade: true));
        Assert.Null(Check("HTTP/1.1 200 OK\r\n\r\n", upgrade: false));
    }

    [Theory]
    [InlineData("HTTP/1.1 404 Not Found\r\n\r\n", "HTTP 404 Not Found, not 101 (check transport.path")]
    [InlineData("HTTP/1.1 403 Forbidden\r\nConnection: upgrade\r\n\r\n", "HTTP 403 Forbidden, not 101")]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", "HTTP 200 OK, not 101")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "no Connection")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n\r\n", "did not answer the HTTP upgrade with HTTP/1.1")]
    public void Check_NamesWhatTheServerAnswered_WhenItIsNot101(string head, string phrase)
    {
        string? problem = Check(head, upgrade: true);

        Assert.NotNull(problem);
        Assert.Contains(phrase, problem, StringComparison.Ordinal);
    }
}
