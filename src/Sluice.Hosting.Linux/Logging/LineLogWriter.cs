using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Sluice.Hosting.Linux.Logging;

/// <summary>
/// The log sink for the console and for `log.output`: one line per entry in <see cref="LineFormatter"/>'s
/// format, written by one writer thread in batches.
/// Why batches: the engine logs a line per connection, and waking a writer thread per line (as the
/// stock console logger does) cost about a tenth of a proxied connection's CPU time. Here a line is
/// formatted on the caller's thread and queued; the writer wakes once, gathers for
/// <see cref="GatherDelay"/>, and writes and flushes everything queued in one go. Warnings and errors
/// end the gathering at once, so they are on disk before the engine acts on them. Disposing (and a
/// crash on an unhandled exception, and process exit) writes out whatever is still queued.
/// </summary>
internal sealed class LineLogWriter : ILoggerProvider
{
    /// <summary>How long informational lines may wait, so a burst of them costs one wake-up and one write.</summary>
    internal static readonly TimeSpan GatherDelay = TimeSpan.FromMilliseconds(10);

    private readonly TextWriter _target;
    private readonly LineFormatter _formatter = new();
    private readonly ConcurrentQueue<string> _queue = new();
    // No spinning before it blocks (SemaphoreSlim spins with sched_yield for milliseconds, on the cores the relays need).
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly Thread _writer;
    private readonly object _writeLock = new();
    private int _signalled; // 1 while the writer has been woken for lines it has not yet taken
    private volatile bool _urgent;
    private volatile bool _stopping;
    private bool _disposed;

    [ThreadStatic] private static StringWriter? t_line;

    /// <param name="target">Where lines go; owned (disposed with the provider).</param>
    public LineLogWriter(TextWriter target)
    {
        _target = target;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "sluice log writer" };
        _writer.Start();
        AppDomain.CurrentDomain.UnhandledException += OnExit;
        AppDomain.CurrentDomain.ProcessExit += OnExit;
    }

    /// <summary>Standard output, UTF-8 without a byte-order mark.</summary>
    public static LineLogWriter ToConsole() =>
        new(new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false });

    /// <summary>Appends to <paramref name="path"/> (created when missing); others may read it meanwhile.</summary>
    public static LineLogWriter ToFile(string path) =>
        new(new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { AutoFlush = false });

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    private void Enqueue<TState>(in LogEntry<TState> entry)
    {
        var line = t_line ??= new StringWriter();
        line.GetStringBuilder().Clear();
        _formatter.Write(entry, null, line);
        _queue.Enqueue(line.ToString());
        if (entry.LogLevel >= LogLevel.Warning)
        {
            _urgent = true;
            Interlocked.Exchange(ref _signalled, 1);
            _wake.Set();
        }
        else if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            _wake.Set();
        }
    }

    private void WriteLoop()
    {
        while (!_stopping)
        {
            _wake.Wait();
            _wake.Reset();
            // Gather: more lines join this batch; a warning (or stopping) sets the event again and ends the wait.
            if (!_urgent && !_stopping) _wake.Wait(GatherDelay);
            _wake.Reset();
            Volatile.Write(ref _signalled, 0);
            _urgent = false;
            Drain();
        }
    }

    /// <summary>Writes and flushes everything queued; safe from any thread (the writer, Dispose, a crash handler).</summary>
    private void Drain()
    {
        lock (_writeLock)
        {
            if (_disposed) return;
            if (_queue.IsEmpty) return;
            try
            {
                while (_queue.TryDequeue(out var line)) _target.Write(line);
                _target.Flush();
            }
            catch (IOException)
            {
                // stdout closed or the disk full: logging must not take the engine down.
            }
        }
    }

    private void OnExit(object? sender, EventArgs e) => Drain();

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Set();
        _writer.Join(TimeSpan.FromSeconds(2));
        Drain();
        AppDomain.CurrentDomain.UnhandledException -= OnExit;
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        lock (_writeLock)
        {
            _disposed = true;
            _target.Dispose();
        }
    }

    private sealed class Logger(LineLogWriter writer, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.None) return;
            writer.Enqueue(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter));
        }
    }
}
