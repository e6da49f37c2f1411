using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>`sluice check` names the JSON path of each problem, as a user runs it.</summary>
public sealed class CheckCommandTests
{
    public static TheoryData<string> BrokenConfigs()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "broken"), "*.json").Order())
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenConfigs))]
    public void Check_BrokenConfig_ExitsOneWithThePath(string name)
    {
        string file = Path.Combine(AppContext.BaseDirectory, "broken", name);
        string expected = File.ReadAllText(Path.ChangeExtension(file, ".expected")).Trim();

        var result = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "check", "-c", file]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr); // no stack trace
    }

    [Fact]
    public void Check_BrokenConfigs_AreAtLeastTen() => Assert.True(BrokenConfigs().Count >= 10);

    [Fact]
    public void Check_ValidConfig_ExitsZero()
    {
        // A private folder of its own (mktemp -d), never a guessable /tmp name written as root.
        string dir = Directory.CreateTempSubdirectory("sluice-check-").FullName;
        string file = Path.Combine(dir, "config.json");
        File.WriteAllText(file, EngineConfigs.Tun("""{"process_name": "curl", "outbound": "direct"}"""));
        try
        {
            var result = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "check", "-c", file]);
            Assert.True(result.Ok, result.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A config with each V2Ray transport on each proxy protocol that carries them passes `sluice check`.</summary>
    [Fact]
    public void Check_ConfigWithEachV2RayTransport_ExitsZero()
    {
        const string uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";
        string[] transports =
        [
            """{"type": "httpupgrade", "host": "cdn.example", "path": "/up", "headers": {"User-Agent": "x"}}""",
            """{"type": "http", "host": ["a.example", "b.example"], "path": "/h2", "method": "PUT", "idle_timeout": "15s", "ping_timeout": "15s"}""",
            """{"type": "grpc", "service_name": "TunService", "idle_timeout": "15s", "ping_timeout": "15s", "permit_without_stream": true}""",
        ];
        var outbounds = new List<string>();
        foreach (var (transport, i) in transports.Select((t, i) => (t, i)))
        {
            outbounds.Add($$"""{"type": "vless", "tag": "vless-{{i}}", "server": "v.example", "server_port": 443, "uuid": "{{uuid}}", "tls": {"enabled": true}, "transport": {{transport}} }""");
            outbounds.Add($$"""{"type": "trojan", "tag": "trojan-{{i}}", "server": "t.example", "server_port": 443, "password": "p", "tls": {"enabled": true}, "transport": {{transport}} }""");
            outbounds.Add($$"""{"type": "vmess", "tag": "vmess-{{i}}", "server": "m.example", "server_port": 443, "uuid": "{{uuid}}", "tls": {"enabled": true, "utls": {"enabled": true} }, "transport": {{transport}} }""");
        }
        string dir = Directory.CreateTempSubdirectory("sluice-check-").FullName;
        string file = Path.Combine(dir, "config.json");
        File.WriteAllText(file, $$"""{"outbounds": [{{string.Join(",\n", outbounds)}}, {"type": "direct", "tag": "direct"}], "route": {"final": "vless-0"} }""");
        try
        {
            var result = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "check", "-c", file]);
            Assert.True(result.Ok, result.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
