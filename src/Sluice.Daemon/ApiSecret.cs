using System.Security.Cryptography;
using System.Text;

namespace Sluice.Daemon;

/// <summary>
/// The HTTP API's bearer secret: from the config's clash_api.secret, else a file readable only by its owner
/// (generated with 32 random bytes when missing). Compared in constant time over SHA-256 digests, so neither
/// the content nor the length leaks through timing.
/// </summary>
internal sealed class ApiSecret
{
    private readonly byte[] _digest;

    private ApiSecret(string value)
    {
        Value = value;
        _digest = SHA256.HashData(Encoding.UTF8.GetBytes(value));
    }

    public string Value { get; }

    public static ApiSecret FromValue(string value) => new(value);

    /// <summary>Reads the secret file, creating it (0600, folder 0700) when missing; refuses a file others can read.</summary>
    public static ApiSecret LoadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null && !Directory.Exists(folder))
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string generated = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            using var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            stream.Write(Encoding.UTF8.GetBytes(generated + "\n"));
            return new ApiSecret(generated);
        }
        var mode = File.GetUnixFileMode(path);
        if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            throw new InvalidOperationException($"the API secret file {path} is readable or writable by others (mode {Convert.ToString((int)mode, 8)}); run `chmod 600 {path}`");
        string value = File.ReadAllText(path).Trim();
        if (value.Length < 8) throw new InvalidOperationException($"the API secret in {path} is shorter than 8 characters; delete the file and the daemon generates a new one");
        return new ApiSecret(value);
    }

    public bool Matches(string? candidate) =>
        candidate is not null && CryptographicOperations.FixedTimeEquals(_digest, SHA256.HashData(Encoding.UTF8.GetBytes(candidate)));
}
