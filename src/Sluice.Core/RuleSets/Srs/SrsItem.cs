namespace Sluice.Core.RuleSets.Srs;

/// <summary>Item ids of a default rule in a .srs body (sing-box common/srs), each followed by its value.</summary>
internal static class SrsItem
{
    public const byte QueryType = 0;
    public const byte Network = 1;
    public const byte Domain = 2;
    public const byte DomainKeyword = 3;
    public const byte DomainRegex = 4;
    public const byte SourceIpCidr = 5;
    public const byte IpCidr = 6;
    public const byte SourcePort = 7;
    public const byte SourcePortRange = 8;
    public const byte Port = 9;
    public const byte PortRange = 10;
    public const byte ProcessName = 11;
    public const byte ProcessPath = 12;
    public const byte PackageName = 13;
    public const byte WifiSsid = 14;
    public const byte WifiBssid = 15;
    public const byte AdGuardDomain = 16;
    public const byte ProcessPathRegex = 17;
    public const byte NetworkType = 18;
    public const byte NetworkIsExpensive = 19;
    public const byte NetworkIsConstrained = 20;
    public const byte NetworkInterfaceAddress = 21;
    public const byte DefaultInterfaceAddress = 22;

    /// <summary>Ends a default rule; the invert flag byte follows.</summary>
    public const byte Final = 0xFF;

    public static readonly byte[] Magic = "SRS"u8.ToArray();
}
