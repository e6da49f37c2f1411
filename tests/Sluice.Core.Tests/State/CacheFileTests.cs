using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.State;
using Sluice.Core.Tun;

namespace Sluice.Core.Tests.State;

public class CacheFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-cache-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private CacheFileOptions Options(string id = "") => new(Path.Combine(_dir, "cache.json"), id, StoreFakeIp: true);

    [Fact]
    public void ModeAndSelection_SurviveAReopen_PerCacheId()
    {
        using (var cache = CacheFile.Open(Options("a"), NullLogger.Instance, TimeProvider.System))
        {
            cache.SetMode("global");
            cache.SetSelected("proxy", "hk-2");
        }
        using (var other = CacheFile.Open(Options("b"), NullLogger.Instance, TimeProvider.System))
        {
            Assert.Null(other.Mode);
            other.SetMode("direct");
        }
        using var again = CacheFile.Open(Options("a"), NullLogger.Instance, TimeProvider.System);
        Assert.Equal("global", again.Mode);
        Assert.Equal("hk-2", again.SelectedOf("proxy"));
        Assert.Null(again.SelectedOf("other"));
        Assert.Equal(System.IO.UnixFileMode.UserRead | System.IO.UnixFileMode.UserWrite, File.GetUnixFileMode(Options().Path));
    }

    [Fact]
    public void CorruptFile_IsSetAside_AndTheCacheStartsEmpty()
    {
        File.WriteAllText(Options().Path, "{ this is not json");
        using var cache = CacheFile.Open(Options(), NullLogger.Instance, TimeProvider.System);
        Assert.Null(cache.Mode);
        Assert.Single(Directory.GetFiles(_dir, "cache.json.corrupt-*"));
        cache.SetMode("rule");
        Assert.Contains("\"rule\"", File.ReadAllText(Options().Path));
    }

    [Fact]
    public void FakePool_Restored_GivesEachNameItsOldAddress_AndGoesOnAfterThem()
    {
        var pool = new FakeIpPool(IpPrefix.Parse("198.18.0.0/15"));
        var a = pool.Allocate("a.test");
        var b = pool.Allocate("b.test");
        var (next, entries) = pool.Export();

        var fresh = new FakeIpPool(IpPrefix.Parse("198.18.0.0/15"));
        Assert.Equal(2, fresh.Restore(next, entries));
        Assert.Equal(b, fresh.Allocate("b.test"));
        Assert.True(fresh.TryGetName(a, out string name));
        Assert.Equal("a.test", name);
        var c = fresh.Allocate("c.test");
        Assert.NotEqual(a, c);
        Assert.NotEqual(b, c);
    }

    [Fact]
    public void FakePool_Restore_SkipsAddressesOutsideItsRange()
    {
        var pool = new FakeIpPool(IpPrefix.Parse("198.18.0.0/15"));
        Assert.Equal(0, pool.Restore(1, [("x.test", Sluice.Packets.NetAddress.Parse("10.0.0.1")), ("y.test", Sluice.Packets.NetAddress.Parse("198.18.0.0"))]));
    }
}
