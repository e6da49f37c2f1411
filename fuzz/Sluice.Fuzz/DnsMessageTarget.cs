using Sluice.Core.Dns;

namespace Sluice.Fuzz;

/// <summary>DNS messages as client queries and as upstream answers (the body lives in Sluice.Core so tests can run it).</summary>
public static class DnsMessageTarget
{
    public static void Run(ReadOnlySpan<byte> data) => DnsFuzzTarget.Run(data);
}
