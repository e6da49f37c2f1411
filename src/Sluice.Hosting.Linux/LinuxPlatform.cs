using Sluice.Core;
using Sluice.Platform.Linux;
using Sluice.Platform.Linux.Crypto;
using Sluice.Platform.Linux.Files;

namespace Sluice.Hosting.Linux;

/// <summary>Composition of the Linux implementations the engine runs on.</summary>
internal static class LinuxPlatform
{
    public static EnginePlatform Create() => new(
        OpenTun: options =>
        {
            var tun = LinuxTunDevice.Create(options.InterfaceName, options.Mtu);
            try
            {
                TunInterfaceSetup.Configure(options.InterfaceName, options.Address, options.Mtu);
            }
            catch
            {
                tun.Dispose();
                throw;
            }
            return tun;
        },
        Routes: new LinuxRouteTable(),
        Sockets: mark => new LinuxSocketFactory(mark),
        Processes: new LinuxProcessLookup())
    {
        DnsFiles = LinuxDnsFiles.Host,
        FileChanges = () => new LinuxFileChangeNotifier(),
        PacketCiphers = OpenSslPacketCipher.Factory,
        X25519 = OpenSslX25519.OrManaged,
        Time = TimeProvider.System,
        TrimNativeMemory = Sluice.Platform.Linux.Native.NativeHeap.TrimAndReleaseFilePages,
    };
}
