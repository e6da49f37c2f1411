using Sluice.Core.Outbounds;
using Sluice.Tests;

namespace Sluice.Core.Tests.Outbounds;

/// <summary>A server that answers a request it cannot authenticate with silence (VMess) is cut one timeout after the app's last bytes.</summary>
public sealed class AnswerDeadlineStreamTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task SilentServer_IsClosed_OneTimeoutAfterTheRequest_WithOneReason()
    {
        var clock = new FakeClock();
        var server = new ServerEnd();
        int reasons = 0;
        using var stream = new AnswerDeadlineStream(server, Timeout, clock, () => reasons++);

        await stream.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        clock.Advance(9.9);
        Assert.False(server.Closed);
        clock.Advance(0.2);

        Assert.True(server.Closed);
        Assert.Equal(1, reasons);
        clock.Advance(60);
        Assert.Equal(1, reasons);
    }

    [Fact]
    public async Task EachWrite_MovesTheDeadline_AnUploadIsNotCut()
    {
        var clock = new FakeClock();
        var server = new ServerEnd();
        using var stream = new AnswerDeadlineStream(server, Timeout, clock, () => { });

        await stream.WriteAsync(new byte[100]);
        clock.Advance(8);
        await stream.WriteAsync(new byte[100]);
        clock.Advance(8);
        Assert.False(server.Closed);
        clock.Advance(2.1);

        Assert.True(server.Closed);
    }

    [Fact]
    public async Task AnAnswer_DisarmsTheDeadline()
    {
        var clock = new FakeClock();
        var server = new ServerEnd();
        int reasons = 0;
        using var stream = new AnswerDeadlineStream(server, Timeout, clock, () => reasons++);

        await stream.WriteAsync(new byte[10]);
        server.Answer = [1, 2, 3];
        Assert.Equal(3, await stream.ReadAsync(new byte[16]));
        clock.Advance(60);

        Assert.False(server.Closed);
        Assert.Equal(0, reasons);
    }

    /// <summary>The server's end of the connection: takes every write, answers a read with <see cref="Answer"/> once it is set.</summary>
    private sealed class ServerEnd : MemoryStream
    {
        public byte[]? Answer { get; set; }

        public bool Closed { get; private set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Answer is null) return ValueTask.FromResult(0);
            Answer.CopyTo(buffer);
            return ValueTask.FromResult(Answer.Length);
        }

        protected override void Dispose(bool disposing)
        {
            Closed = true;
            base.Dispose(disposing);
        }
    }
}
