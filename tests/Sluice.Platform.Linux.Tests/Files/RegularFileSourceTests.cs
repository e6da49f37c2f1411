using System.Diagnostics;
using Sluice.Core;
using Sluice.Core.Configuration;
using Sluice.Platform.Linux.Files;

namespace Sluice.Platform.Linux.Tests.Files;

/// <summary>
/// Finding 9 of issue 17: the root daemon read any path a config named. Through the one file source every
/// config file goes through: a FIFO answers at once, a device is refused, a file over its cap is refused
/// naming the cap, and a file the API caller could not read itself is refused.
/// </summary>
public sealed class RegularFileSourceTests : IDisposable
{
    private static readonly FileCaller Nobody = new(65534, [65534]);
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-files-").FullName;

    [Fact]
    public void Fifo_IsRefused_WithinASecond_WithNoWriter()
    {
        string fifo = Path.Combine(_dir, "config.json");
        Run("mkfifo", fifo);
        var clock = Stopwatch.StartNew();
        var refused = Assert.Throws<FileRefusedException>(() => RegularFileSource.Host.Read(fifo, EngineLimits.Default.ConfigFileBytes));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        Assert.Contains("a FIFO, not a regular file", refused.Message);
    }

    [Fact]
    public void DevZero_IsRefused_AsACharacterDevice()
    {
        var refused = Assert.Throws<FileRefusedException>(() => RegularFileSource.Host.Read("/dev/zero", EngineLimits.Default.HostsFileBytes));
        Assert.Contains("/dev/zero: a character device, not a regular file", refused.Message);
    }

    [Fact]
    public void SymlinkToDevZero_IsRefused_WhereItLeads()
    {
        string link = Path.Combine(_dir, "hosts");
        File.CreateSymbolicLink(link, "/dev/zero");
        Assert.Throws<FileRefusedException>(() => RegularFileSource.Host.Read(link, EngineLimits.Default.HostsFileBytes));
    }

    [Fact]
    public void Directory_IsRefused()
    {
        var refused = Assert.Throws<FileRefusedException>(() => RegularFileSource.Host.Read(_dir, 1024));
        Assert.Contains("a directory", refused.Message);
    }

    [Fact]
    public void FileOverItsCap_IsRefused_NamingTheCap()
    {
        string pem = Path.Combine(_dir, "ca.pem");
        File.WriteAllBytes(pem, new byte[EngineLimits.Default.PemFileBytes + 1]);
        var refused = Assert.Throws<FileRefusedException>(() => RegularFileSource.Host.Read(pem, EngineLimits.Default.PemFileBytes));
        Assert.Contains("larger than the 1 MiB cap", refused.Message);
    }

    [Fact]
    public void FileAtItsCap_IsRead_Whole()
    {
        string pem = Path.Combine(_dir, "ca.pem");
        File.WriteAllBytes(pem, new byte[4096]);
        Assert.Equal(4096, RegularFileSource.Host.Read(pem, 4096).Length);
    }

    [Fact]
    public void FileTheCallerCannotRead_IsRefused_NamingTheCaller()
    {
        string file = Private("secret.json", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var refused = Assert.Throws<FileRefusedException>(() => new RegularFileSource(Nobody).Read(file, 1024));
        Assert.Contains("uid 65534 may not read it", refused.Message);
        Assert.Equal(2, RegularFileSource.Host.Read(file, 1024).Length); // root (the host) still reads it
    }

    [Fact]
    public void FileInADirectoryTheCallerCannotEnter_IsRefused()
    {
        string file = Private("config.json", UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var refused = Assert.Throws<FileRefusedException>(() => new RegularFileSource(Nobody).Read(file, 1024));
        Assert.Contains($"may not enter {_dir}", refused.Message);
    }

    [Fact]
    public void WorldReadableFile_InOpenDirectories_IsRead_ForAnyCaller()
    {
        string file = Private("config.json", UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(_dir, (UnixFileMode)0x1ED); // 0755
        Assert.Equal(2, new RegularFileSource(Nobody).Read(file, 1024).Length);
    }

    [Fact]
    public void GroupReadableFile_IsRead_ForAMemberOfItsGroup_Only()
    {
        string file = Private("config.json", UnixFileMode.UserRead | UnixFileMode.GroupRead);
        File.SetUnixFileMode(_dir, (UnixFileMode)0x1ED);
        Run("chown", "0:4242", file);
        Assert.Equal(2, new RegularFileSource(new FileCaller(1000, [1000, 4242])).Read(file, 1024).Length);
        Assert.Throws<FileRefusedException>(() => new RegularFileSource(new FileCaller(1000, [1000])).Read(file, 1024));
    }

    [Fact]
    public void ConfigNamingAFifoAsItsCertificate_FailsToLoad_WithinASecond()
    {
        string fifo = Path.Combine(_dir, "ca.pem");
        Run("mkfifo", fifo);
        string json = $$"""
            {"outbounds": [{"type": "trojan", "tag": "t", "server": "192.0.2.1", "server_port": 443, "password": "p",
              "tls": {"enabled": true, "certificate_path": "{{fifo}}"} }]}
            """;
        var origin = ConfigOrigin.Api(_dir) with { Files = new RegularFileSource(Nobody) };
        ConfigLoader.Validate(json.Replace(fifo, "/nonexistent.pem", StringComparison.Ordinal), origin); // the parser's first run (JIT) is not the read being timed
        var clock = Stopwatch.StartNew();
        var errors = ConfigLoader.Validate(json, origin);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        var error = Assert.Single(errors);
        Assert.Equal("outbounds[0].tls.certificate_path", error.Path);
        Assert.Contains("a FIFO, not a regular file", error.Message);
    }

    private string Private(string name, UnixFileMode mode)
    {
        string file = Path.Combine(_dir, name);
        File.WriteAllText(file, "{}");
        File.SetUnixFileMode(file, mode);
        return file;
    }

    private static void Run(string program, params string[] args)
    {
        using var process = System.Diagnostics.Process.Start(program, args);
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
