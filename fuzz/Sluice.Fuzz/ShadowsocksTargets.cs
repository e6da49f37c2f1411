using Sluice.Core.Outbounds.Shadowsocks;

namespace Sluice.Fuzz;

/// <summary>obfs=http/tls and Mux.Cool frames from a server (the body lives in Sluice.Core so tests can run it).</summary>
public static class ObfsFrameTarget
{
    public static void Run(ReadOnlySpan<byte> data) => ShadowsocksFuzzTarget.RunObfs(data);
}

/// <summary>Shadowsocks 2022 response headers and UDP server packets (the body lives in Sluice.Core).</summary>
public static class Shadowsocks2022Target
{
    public static void Run(ReadOnlySpan<byte> data) => ShadowsocksFuzzTarget.Run2022(data);
}
