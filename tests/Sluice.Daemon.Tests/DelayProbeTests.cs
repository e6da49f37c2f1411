using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Outbounds;

namespace Sluice.Daemon.Tests;

/// <summary>Clash's delay test against a loopback HTTP server that answers one status: mihomo's <c>expected</c> ranges decide.</summary>
public sealed class DelayProbeTests : IDisposable
{
    private readonly TcpListener _server = new(IPAddress.Loopback, 0);

    public DelayProbeTests()
    {
        _server.Start();
    }

    private Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_server.LocalEndpoint).Port}/generate_204");

    /// <summary>Answers the next request with <paramref name="status"/>.</summary>
    private async Task AnswerAsync(int status)
    {
        using var client = await _server.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var buffer = new byte[1024];
        _ = await stream.ReadAsync(buffer); // the request; its content does not matter
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\n\r\n"));
    }

    private async Task<DelayProbe.Result> ProbeAsync(int status, string? expected)
    {
        Assert.True(StatusRanges.TryParse(expected, out var ranges));
        var answer = AnswerAsync(status);
        var result = await DelayProbe.MeasureAsync(new LoopbackOutbound(), Url, TimeSpan.FromSeconds(5), CancellationToken.None, ranges);
        await answer;
        return result;
    }

    [Theory]
    [InlineData(204, null)]
    [InlineData(404, null)]
    [InlineData(204, "204")]
    [InlineData(302, "200/302")]
    [InlineData(250, "200-299/304")]
    public async Task Status_InTheExpectedRanges_OrNoneExpected_IsADelay(int status, string? expected)
    {
        var result = await ProbeAsync(status, expected);
        Assert.True(result.Delay > 0, result.Error);
    }

    [Theory]
    [InlineData(404, "204")]
    [InlineData(301, "200-299/304")]
    public async Task Status_OutsideTheExpectedRanges_IsAFailureNamingIt(int status, string expected)
    {
        var result = await ProbeAsync(status, expected);
        Assert.Null(result.Delay);
        Assert.Contains($"{status}", result.Error);
        Assert.Contains(expected, result.Error);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("204-200")]
    [InlineData("99")]
    [InlineData("200-300-400")]
    public void Expected_ThatIsNotRanges_IsRefused(string expected) => Assert.False(StatusRanges.TryParse(expected, out _));

    public void Dispose() => _server.Dispose();

    /// <summary>Dials the destination directly over loopback.</summary>
    private sealed class LoopbackOutbound : IOutbound
    {
        public string Tag => "loopback";

        public string Type => "direct";

        public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
        {
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, destination.Port, cancellationToken);
            return client.GetStream();
        }

        public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
