using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A system user (and its own group) that exists for one test: created with useradd under a name unique to this
/// process, removed with userdel on dispose. It owns nothing and has no home or shell.
/// </summary>
internal sealed class TestUser : IDisposable
{
    private static int _count;

    private TestUser(string name, uint uid, uint gid)
    {
        Name = name;
        Uid = uid;
        Gid = gid;
    }

    public string Name { get; }

    public uint Uid { get; }

    public uint Gid { get; }

    public static TestUser Create()
    {
        string name = $"sluicet{Environment.ProcessId % 100000}x{Interlocked.Increment(ref _count)}";
        Exec.Check("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name);
        try
        {
            uint uid = uint.Parse(Exec.Check("id", "-u", name).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            uint gid = uint.Parse(Exec.Check("id", "-g", name).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            return new TestUser(name, uid, gid);
        }
        catch
        {
            Exec.Run(TimeSpan.FromSeconds(30), "userdel", name);
            throw;
        }
    }

    /// <summary>argv prefixed to run as this user with only its own groups (setpriv keeps the namespace we are in).</summary>
    public string[] As(params string[] argv) =>
        ["setpriv", "--reuid", Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--regid", Gid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--init-groups", "--", .. argv];

    public void Dispose() => Exec.Run(TimeSpan.FromSeconds(30), "userdel", Name);
}
