namespace Sluice.Core.Configuration;

/// <summary>What Linux accepts as a network interface name (dev_valid_name): 1-15 bytes, no '/', ':' or spaces, not "." or "..".</summary>
internal static class InterfaceNames
{
    public static bool IsValid(string name) =>
        name.Length is > 0 and <= 15 && !name.Contains('/') && !name.Contains(':') && !name.Any(char.IsWhiteSpace) && name is not ("." or "..");

    public static string Problem(string name) => $"{JsonPath.Quote(name)} is not a valid interface name (1-15 characters, no '/', ':' or spaces)";
}
