namespace Sluice.Daemon.Tests;

public sealed class ApiSecretTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-secret-").FullName;

    [Fact]
    public void Missing_IsGenerated_Mode0600_AndMatchesOnlyItself()
    {
        string path = Path.Combine(_dir, "etc", "secret");
        var secret = ApiSecret.LoadOrCreate(path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.True(secret.Value.Length >= 40);
        Assert.True(secret.Matches(File.ReadAllText(path).Trim()));
        Assert.False(secret.Matches(secret.Value[..^1]));
        Assert.False(secret.Matches(secret.Value + "x"));
        Assert.False(secret.Matches(null));
        Assert.Equal(secret.Value, ApiSecret.LoadOrCreate(path).Value);
    }

    [Fact]
    public void FileReadableByOthers_IsRefused_WithTheFix()
    {
        string path = Path.Combine(_dir, "secret");
        File.WriteAllText(path, "a-long-enough-secret\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var e = Assert.Throws<InvalidOperationException>(() => ApiSecret.LoadOrCreate(path));
        Assert.Contains($"chmod 600 {path}", e.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
