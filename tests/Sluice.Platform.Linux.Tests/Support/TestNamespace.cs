using System.Runtime.ExceptionServices;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux.Tests.Support;

/// <summary>
/// A network namespace of the test's own (<c>sl-test-XXXXXXXX</c>, lo up), deleted on Dispose.
/// <see cref="Run{T}"/> executes code on a fresh thread that has joined the namespace with setns:
/// a thread's network namespace is its own, so devices and sockets it creates belong to the namespace.
/// </summary>
internal sealed class TestNamespace : IDisposable
{
    public TestNamespace()
    {
        Preconditions.RequireRootAndTun();
        Name = "sl-test-" + Guid.NewGuid().ToString("N")[..8];
        IpCommand.Ip(["netns", "add", Name]);
        try
        {
            IpCommand.Ip(["link", "set", "lo", "up"], Name);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }

    public T Run<T>(Func<T> action)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter();
                result = action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }) { IsBackground = true, Name = "netns " + Name };
        thread.Start();
        if (!thread.Join(TimeSpan.FromSeconds(30))) throw new TimeoutException($"code in netns {Name} did not finish in 30 s");
        failure?.Throw();
        return result;
    }

    public void Run(Action action) => Run(() => { action(); return 0; });

    /// <summary>Runs <c>ip -n NS args</c> and returns stdout; throws on failure.</summary>
    public string Ip(params string[] args) => IpCommand.Ip(args, Name).Stdout;

    public CommandResult TryIp(params string[] args) => IpCommand.Ip(args, Name, throwOnError: false);

    public void Dispose() => IpCommand.Ip(["netns", "del", Name], throwOnError: false);

    private unsafe void Enter()
    {
        int fd = Libc.Open($"/var/run/netns/{Name}", Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0) throw new IOException($"cannot open /var/run/netns/{Name}: {Libc.ErrorText(Libc.LastError)}");
        try
        {
            if (Libc.Setns(fd, Libc.CLONE_NEWNET) != 0)
                throw new IOException($"setns into {Name} failed: {Libc.ErrorText(Libc.LastError)}");
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}

internal static class Preconditions
{
    /// <summary>Fails (never skips) when the test cannot run here, saying why.</summary>
    public static void RequireRootAndTun()
    {
        if (!Environment.IsPrivilegedProcess)
            Assert.Fail("this test needs root (CAP_NET_ADMIN) to create network namespaces and TUN devices; run the tests as root");
        if (!File.Exists("/dev/net/tun"))
            Assert.Fail("this test needs /dev/net/tun; load the tun module (modprobe tun) or give the container the device");
    }
}
