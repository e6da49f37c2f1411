using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sluice.Core.Dns;
using Sluice.Packets;

namespace Sluice.Core.Tests.Dns;

/// <summary>Hosts files and resolv.conf edited while the server runs: a fake clock drives the polling.</summary>
public sealed class FileReloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-reload-").FullName;
    private readonly FakeClock _clock = new();
    private readonly LogLines _log = new();

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>Writes a file so its change is visible to a stat (a new modification time even within one clock tick).</summary>
    private static void Write(string path, string text)
    {
        var before = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : DateTime.MinValue;
        File.WriteAllText(path, text);
        if (File.GetLastWriteTimeUtc(path) <= before) File.SetLastWriteTimeUtc(path, before.AddSeconds(1));
    }

    private void Poll() => _clock.Advance(FileWatch.Interval);

    private DnsServer Server(DnsServerOptions server, string resolvConf = "/nonexistent/resolv.conf", ushort nameserverPort = 53) =>
        DnsServer.Create(new DnsOptions { Servers = [server], Timeout = TimeSpan.FromSeconds(2) }, _ => throw new InvalidOperationException("no detours"),
            new PlainSockets(), _log, _clock, new DnsEnvironment(resolvConf, nameserverPort, []));

    [Fact]
    public void FileWatch_CallsBackOncePerChange_IncludingARenameOverTheFile_AndASymlinkRepointed()
    {
        string file = PathOf("watched"), other = PathOf("other"), link = PathOf("link");
        Write(file, "one");
        Write(other, "two");
        File.CreateSymbolicLink(link, file);
        int calls = 0;
        using var watch = new FileWatch([link], _clock, () => Interlocked.Increment(ref calls));

        Poll();
        Assert.Equal(0, calls); // nothing changed

        Write(file, "one more");
        Poll();
        Poll();
        Assert.Equal(1, calls); // one change, one callback

        string staged = PathOf("staged");
        Write(staged, "replaced");
        File.SetLastWriteTimeUtc(staged, File.GetLastWriteTimeUtc(file).AddSeconds(5));
        File.Move(staged, file, overwrite: true); // how resolvconf and editors replace a file
        Poll();
        Assert.Equal(2, calls);

        File.Delete(link);
        File.CreateSymbolicLink(link, other); // systemd-resolved / NetworkManager repoint the link
        Poll();
        Assert.Equal(3, calls);
    }

    [Fact]
    public void FileWatch_ReportsAChangeMadeWhileTheCallbackOfAnEarlierOneRuns()
    {
        // An inotify event that arrives while the previous look is still in its callback must not be lost:
        // with a notifier there is no later poll that would find the change.
        string file = PathOf("watched");
        Write(file, "one");
        int calls = 0;
        FileWatch? watch = null;
        watch = new FileWatch([file], _clock, () =>
        {
            if (Interlocked.Increment(ref calls) != 1) return;
            Write(file, "edited again while the first change is handled");
            watch!.Check(); // the notifier's event for that edit, during this callback
        });
        using (watch)
        {
            Write(file, "one more");
            watch.Check();
            Assert.Equal(2, calls);

            watch.Check();
            Assert.Equal(2, calls); // nothing new: no third callback
        }
    }

    [Fact]
    public async Task HostsServer_AnswersFromTheEditedFile_AfterTheNextPoll()
    {
        string hosts = PathOf("hosts");
        Write(hosts, "192.0.2.1 nas.lan\n");
        await using var server = Server(new HostsDnsServerOptions("hosts", [hosts], new Dictionary<string, IReadOnlyList<NetAddress>>()));
        Assert.Equal(["192.0.2.1"], Msg.Addresses(await server.Ask("nas.lan")));

        Write(hosts, "192.0.2.2 nas.lan\n192.0.2.3 printer.lan # new\n");
        Assert.Equal(["192.0.2.1"], Msg.Addresses(await server.Ask("nas.lan"))); // not looked at yet
        Poll();

        Assert.Equal(["192.0.2.2"], Msg.Addresses(await server.Ask("nas.lan")));
        Assert.Equal(["192.0.2.3"], Msg.Addresses(await server.Ask("printer.lan")));
        Assert.Contains($"dns: hosts server hosts reloaded {hosts}: 2 names", _log.ToString());
    }

    [Theory]
    [InlineData("emptied")]
    [InlineData("deleted")]
    public async Task HostsFile_ThatCannotBeUsed_KeepsThePreviousEntries_AndSaysSo(string how)
    {
        string hosts = PathOf("hosts");
        Write(hosts, "192.0.2.1 nas.lan\n");
        await using var server = Server(new HostsDnsServerOptions("hosts", [hosts], new Dictionary<string, IReadOnlyList<NetAddress>>()));

        if (how == "emptied") Write(hosts, "# being rewritten\n");
        else File.Delete(hosts);
        Poll();

        Assert.Equal(["192.0.2.1"], Msg.Addresses(await server.Ask("nas.lan")));
        string expected = how == "emptied"
            ? $"dns: hosts server hosts keeps its previous entries: {hosts} has no entries now (it had 1)"
            : $"dns: hosts server hosts keeps its previous entries: cannot read {hosts}";
        Assert.Contains(expected, _log.ToString());

        Write(hosts, "192.0.2.9 nas.lan\n"); // written back: used again
        Poll();
        Assert.Equal(["192.0.2.9"], Msg.Addresses(await server.Ask("nas.lan")));
    }

    [Fact]
    public async Task LocalServer_FollowsResolvConf_AndKeepsItsNameserversWhenTheFileNamesNone()
    {
        await using var up = new DnsResponder();
        string conf = PathOf("resolv.conf");
        // 127.0.0.2 has no listener on the responder's port: the query fails until resolv.conf changes.
        Write(conf, "nameserver 127.0.0.2\n");
        await using var server = Server(new LocalDnsServerOptions("local"), conf, up.Port);
        var unanswered = server.Ask("a.example");
        _clock.Advance(TimeSpan.FromSeconds(2)); // the server's timeout runs on the fake clock too
        Assert.Equal(2, Msg.Rcode(await unanswered)); // SERVFAIL

        Write(conf, "search lan\nnameserver 127.0.0.1\n");
        Poll();
        Assert.Equal(["192.0.2.10"], Msg.Addresses(await server.Ask("b.example")));
        Assert.Contains($"dns: local server local reloaded {conf}: nameservers 127.0.0.1", _log.ToString());

        Write(conf, "# being rewritten\n");
        Poll();
        Assert.Equal(["192.0.2.10"], Msg.Addresses(await server.Ask("c.example")));
        Assert.Contains($"dns: local server local keeps nameservers 127.0.0.1: {conf} has no usable nameserver line", _log.ToString());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
