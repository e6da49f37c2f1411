using System.Diagnostics;
using System.Text.Json;
using Sluice.Core.RuleSets;

namespace Sluice.Core.Tests.RuleSets.Mrs;

/// <summary>
/// .mrs files for the tests (unit and end-to-end), made by mrs_encode.py: an encoder written from mihomo's source,
/// compressing with Debian's python3-zstandard.
/// </summary>
internal static class MrsFiles
{
    public static string EncoderPath => Path.Combine(AppContext.BaseDirectory, "RuleSets", "Mrs", "mrs_encode.py");

    /// <summary>mihomo's converter output for these rules of that behavior ("domain" or "ipcidr").</summary>
    public static byte[] Encode(string behavior, IEnumerable<string> rules) =>
        Run(JsonSerializer.Serialize(new Dictionary<string, object> { ["behavior"] = behavior, ["rules"] = rules.ToArray() }));

    /// <summary>A zstd stream of <paramref name="zeros"/> zero bytes with a 2^<paramref name="windowLog"/> window.</summary>
    public static byte[] Zeros(long zeros, int windowLog) =>
        Run(JsonSerializer.Serialize(new Dictionary<string, object> { ["zeros"] = zeros, ["window_log"] = windowLog }));

    /// <summary>Whether the set (compiled as a route rule uses it) matches the name or address.</summary>
    public static bool Matches(RuleSetContent content, string target) => RuleSetQuery.FirstMatch(content, target) >= 0;

    private static byte[] Run(string spec)
    {
        string output = Path.Combine(Path.GetTempPath(), $"sluice-mrs-{Guid.NewGuid():N}.mrs");
        try
        {
            var info = new ProcessStartInfo("/usr/bin/python3", [EncoderPath, output])
            {
                RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var process = Process.Start(info)!;
            process.StandardInput.Write(spec);
            process.StandardInput.Close();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, "mrs_encode.py failed (is python3-zstandard installed?): " + error);
            return File.ReadAllBytes(output);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
