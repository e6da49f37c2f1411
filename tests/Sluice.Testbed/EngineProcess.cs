using System.Diagnostics;

namespace Sluice.Testbed;

/// <summary>A `sluice run` process: its output lines are collected so tests and the demo can read the log.</summary>
public sealed class EngineProcess
{
    private readonly Process _process;
    private readonly List<string> _lines = [];

    public EngineProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Process Process => _process;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> Lines
    {
        get { lock (_lines) return _lines.ToArray(); }
    }

    public string Log => string.Join('\n', Lines);

    private void Add(string? line)
    {
        if (line is null) return;
        lock (_lines)
        {
            _lines.Add(line);
            Monitor.PulseAll(_lines);
        }
    }

    /// <summary>Waits for a log line containing <paramref name="text"/>; false on timeout or exit.</summary>
    public bool WaitFor(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        lock (_lines)
        {
            while (true)
            {
                if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return true;
                var left = timeout - deadline.Elapsed;
                if (left <= TimeSpan.Zero || (_process.HasExited && !_lines.Any(l => l.Contains(text, StringComparison.Ordinal)) && deadline.Elapsed > TimeSpan.FromMilliseconds(500)))
                    return false;
                Monitor.Wait(_lines, TimeSpan.FromMilliseconds(Math.Min(200, left.TotalMilliseconds)));
            }
        }
    }

    /// <summary>Waits until the engine says it started; throws with its log when it did not.</summary>
    public EngineProcess WaitStarted(TimeSpan? timeout = null)
    {
        if (!WaitFor("engine started", timeout ?? TimeSpan.FromSeconds(30)))
            throw new InvalidOperationException($"sluice did not start:\n{Log}");
        return this;
    }

    public void Signal(int signal) => Exec.Signal(_process, signal);

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public int ExitCode => _process.ExitCode;
}
