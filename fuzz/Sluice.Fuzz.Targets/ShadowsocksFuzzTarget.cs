using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Core.Outbounds.Shadowsocks.Plugins;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// The Shadowsocks decoders of untrusted server bytes, for SharpFuzz (fuzz/Sluice.Fuzz "obfs" and
/// "ss2022") and the bounded runs in the unit tests. A malformed input may end a read with an
/// <see cref="IOException"/> (that is the decoders' way to refuse it); any other exception is a bug.
/// </summary>
public static class ShadowsocksFuzzTarget
{
    private static readonly byte[] Psk = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();

    /// <summary>The obfs=http head, obfs=tls prelude and records, and v2ray-plugin's Mux.Cool frames, as a server would send them.</summary>
    public static void RunObfs(ReadOnlySpan<byte> data)
    {
        byte[] input = data.ToArray();
        ObfsHttpStream.ParseHead(input, out _);
        if (input.Length >= ObfsTlsStream.ServerPreludeLength) ObfsTlsStream.ParsePrelude(input, out _);
        if (input.Length >= 5) ObfsTlsStream.ParseRecordHeader(input, out _);
        V2RayPlugin.CheckUpgrade(System.Text.Encoding.Latin1.GetString(input), "dGhlIHNhbXBsZSBub25jZQ==");
        Drain(new ObfsHttpStream(new MemoryStream(input), "h", "/", "fuzz"));
        Drain(new ObfsTlsStream(new MemoryStream(input), "h", "fuzz", TimeProvider.System));
        Drain(new MuxCoolStream(new MemoryStream(input), "fuzz"));
    }

    /// <summary>The SIP022 response header and server packet checks over raw bytes, and whole packets into a session.</summary>
    public static void Run2022(ReadOnlySpan<byte> data)
    {
        int saltSize = data.Length > 0 && (data[0] & 1) == 0 ? 16 : 32;
        if (data.Length >= Shadowsocks2022Headers.ResponseFixedLength(saltSize))
        {
            string? problem = Shadowsocks2022Headers.CheckResponse(data[..Shadowsocks2022Headers.ResponseFixedLength(saltSize)], data.Slice(9, saltSize), 1_767_225_600, out int first);
            if (problem is null && first is < 0 or > 0xFFFF) throw new InvalidOperationException($"first chunk length {first}");
        }
        string? body = Shadowsocks2022Packets.CheckServerBody(data, 0x0102030405060708, 1_767_225_600, out int start, out _);
        if (body is null && (start < 0 || start > data.Length)) throw new InvalidOperationException($"payload start {start} outside {data.Length}");
        foreach (string method in (string[])["2022-blake3-aes-128-gcm", "2022-blake3-chacha20-poly1305"])
        {
            var m = ShadowsocksMethod.Find(method)!;
            string key = Convert.ToBase64String(m.KeySize == 16 ? Psk : [.. Psk, .. Psk]);
            using var channel = new Shadowsocks2022UdpChannel(new NullUdp(), m, Shadowsocks2022Keys.Parse(m, key, out _)!, default,
                TimeProvider.System, NullLogger.Instance, "fuzz");
            byte[] packet = data.ToArray();
            if (channel.Open(packet, out int payloadStart, out int payloadLength) is null && payloadStart + payloadLength > packet.Length)
                throw new InvalidOperationException("payload outside the packet");
        }
    }

    private static void Drain(Stream stream)
    {
        var buffer = new byte[4096];
        try
        {
            while (stream.ReadAsync(buffer).AsTask().GetAwaiter().GetResult() > 0)
            {
            }
        }
        catch (IOException)
        {
            // A refused input.
        }
        finally
        {
            stream.Dispose();
        }
    }

    private sealed class NullUdp : IUdpChannel
    {
        public void Send(ReadOnlySpan<byte> payload)
        {
        }

        public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) => ValueTask.FromResult(0);

        public void Dispose()
        {
        }
    }
}
