using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Hosting.Linux.Logging;

namespace Sluice.Cli.Tests.Hosting;

/// <summary>The batched log sink behind the console and `log.output`: every line arrives, in order, while the engine runs.</summary>
public sealed class LineLogWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-log-").FullName;

    [Fact]
    public void LogOutput_LinesFromManyThreads_AllArriveOnce_EachThreadsInItsOrder()
    {
        string path = Path.Combine(_dir, "engine.log");
        using (var factory = EngineLogging.Create(LogOptions.Default with { Output = path, Timestamp = false }, debug: false))
        {
            var logger = factory.CreateLogger("mixed");
            Parallel.For(0, 4, thread =>
            {
                for (int i = 0; i < 500; i++) logger.LogInformation("thread {Thread} line {Line}", thread, i);
            });
        }

        var lines = File.ReadAllLines(path);
        Assert.Equal(2000, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("info  mixed: thread ", l));
        for (int thread = 0; thread < 4; thread++)
        {
            var own = lines.Where(l => l.StartsWith($"info  mixed: thread {thread} ")).Select(l => int.Parse(l[(l.LastIndexOf(' ') + 1)..])).ToArray();
            Assert.Equal(Enumerable.Range(0, 500), own);
        }
    }

    [Fact]
    public void LogOutput_LinesReachTheFileWhileTheEngineRuns_NotOnlyAtExit()
    {
        string path = Path.Combine(_dir, "live.log");
        using var factory = EngineLogging.Create(LogOptions.Default with { Output = path, Timestamp = false }, debug: false);
        var logger = factory.CreateLogger("dns");
        logger.LogInformation("first");
        logger.LogWarning("second");

        // Batched, not held: within a few gather periods both lines are on disk, in order.
        string[] lines = [];
        for (int i = 0; i < 100 && lines.Length < 2; i++)
        {
            Thread.Sleep(20);
            using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        Assert.Equal(["info  dns: first", "warn  dns: second"], lines);
    }

    [Fact]
    public void LogOutput_BelowTheConfiguredLevel_IsNotWritten()
    {
        string path = Path.Combine(_dir, "level.log");
        using (var factory = EngineLogging.Create(LogOptions.Default with { Output = path, Timestamp = false, Level = "warn" }, debug: false))
        {
            var logger = factory.CreateLogger("tcp");
            logger.LogInformation("routine");
            logger.LogError("broken");
        }

        Assert.Equal(["error tcp: broken"], File.ReadAllLines(path));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
