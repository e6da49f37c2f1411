namespace Sluice.Core.Configuration;

/// <summary>One problem in a config, located by its JSON path (<c>route.rules[3].ip_cidr[1]</c>; "" for the whole document).</summary>
public sealed record ConfigError(string Path, string Message)
{
    // An empty path (file not found, invalid JSON) prints the message alone rather than ": message".
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";
}

/// <summary>A config that cannot be used. <see cref="Exception.Message"/> lists every error, one per line.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(string.Join('\n', errors)) => Errors = errors;

    public ConfigException(ConfigError error) : this([error]) { }

    public IReadOnlyList<ConfigError> Errors { get; }
}
