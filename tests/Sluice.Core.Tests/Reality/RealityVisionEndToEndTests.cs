using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Org.BouncyCastle.Math.EC.Rfc7748;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Vless;
using Sluice.Core.Tests.Dns;
using Sluice.Packets;
using Sluice.Core.Outbounds.Reality;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.Vision;
using Sluice.Core.Tests.Tls;

namespace Sluice.Core.Tests.Reality;

/// <summary>
/// Reality + VLESS + Vision end to end on loopback: Sluice's client → the spec-written <see cref="RealityTestServer"/>
/// → openssl s_server as the target, with a real inner TLS 1.3 (.NET's SslStream over OpenSSL) that Vision
/// pads and then copies directly. The negative cases meet the fallback a Reality server forwards to.
/// </summary>
public sealed class RealityVisionEndToEndTests(OpensslPeer peer) : IClassFixture<OpensslPeer>
{
    private const string ServerName = "www.example.com";
    private const string ShortId = "0123abcd";
    private const int MiB = 1 << 20;
    private static readonly byte[] UserId = Guid.Parse("b831381d-6324-4d53-ad4f-8cda48b30811").ToByteArray(bigEndian: true);

    [Fact]
    public async Task InnerTls_OneMebibyteEachWay_ArrivesIntact_AndVisionGoesDirectBothWays()
    {
        var (privateKey, publicKey) = RealityKeys();
        int targetPort = OpensslPeer.FreePort();
        using var target = peer.StartServer(targetPort, "TLS_AES_256_GCM_SHA384");
        await using var server = new RealityTestServer(privateKey, ShortId, ServerName, UserId, new IPEndPoint(IPAddress.Loopback, 1));
        try
        {
            await using var vision = await DialAsync(server.Port, publicKey, ShortId, targetPort);
            await using var inner = new SslStream(vision);
            await inner.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls13,
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { peer.Roots()[0] }, RevocationMode = X509RevocationMode.NoCheck,
                },
            });

            var upload = RandomNumberGenerator.GetBytes(MiB);
            var download = RandomNumberGenerator.GetBytes(MiB);
            // Upload first: the target's session tickets then reach the server relay as whole records of their
            // own, which is where Xray's server algorithm (a read of whole application-data records) goes direct.
            var serverReceived = ReadExactlyAsync(target.StandardOutput.BaseStream, MiB);
            await inner.WriteAsync(upload).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(SHA256.HashData(upload), SHA256.HashData(await serverReceived.WaitAsync(TimeSpan.FromSeconds(30))));

            var clientReceived = ReadExactlyAsync(inner, MiB);
            await target.StandardInput.BaseStream.WriteAsync(download);
            await target.StandardInput.BaseStream.FlushAsync();
            Assert.Equal(SHA256.HashData(download), SHA256.HashData(await clientReceived.WaitAsync(TimeSpan.FromSeconds(30))));
            Assert.True(vision.WritesDirect, "the client's uplink went direct after the inner handshake");
            Assert.True(vision.ReadsDirect, "the client's downlink went direct after the inner handshake");
            var relay = Assert.Single(server.Relays);
            Assert.Equal("xtls-rprx-vision", relay.Flow);
            Assert.True(relay.UplinkWentDirect && relay.DownlinkWentDirect);
        }
        finally
        {
            Stop(target);
        }
    }

    [Theory]
    [InlineData("wrong public key")]
    [InlineData("wrong short id")]
    public async Task UnauthenticatedHello_MeetsTheFallback_AndFailsWithTheRealityError(string mistake)
    {
        var (privateKey, publicKey) = RealityKeys();
        int fallbackPort = OpensslPeer.FreePort();
        using var fallback = peer.StartServer(fallbackPort, "TLS_AES_128_GCM_SHA256");
        await using var server = new RealityTestServer(privateKey, ShortId, ServerName, UserId, new IPEndPoint(IPAddress.Loopback, fallbackPort));
        try
        {
            var key = mistake == "wrong public key" ? RealityKeys().Public : publicKey;
            var shortId = mistake == "wrong short id" ? "0123abce" : ShortId;
            var started = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<OutboundException>(() => DialAsync(server.Port, key, shortId, 1));
            Assert.Equal($"{Who(server.Port)}: TLS handshake with {ServerName} failed: {RealityHandshakeHooks.NotRealityMessage}", error.Message);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), "refused at once, no hang");
            Assert.Equal((0, 1), (server.Authenticated, server.Forwarded));
        }
        finally
        {
            Stop(fallback);
        }
    }

    [Fact]
    public async Task OrdinaryTlsServer_IsRefused_WithTheRealityError()
    {
        int port = OpensslPeer.FreePort();
        using var ordinary = peer.StartServer(port, "TLS_CHACHA20_POLY1305_SHA256");
        try
        {
            var error = await Assert.ThrowsAsync<OutboundException>(() => DialAsync(port, RealityKeys().Public, ShortId, 1));
            Assert.Equal($"{Who(port)}: TLS handshake with {ServerName} failed: {RealityHandshakeHooks.NotRealityMessage}", error.Message);
        }
        finally
        {
            Stop(ordinary);
        }
    }

    /// <summary>The vless outbound itself (flow xtls-rprx-vision, tls.reality) dialing the target through the test server.</summary>
    private static async Task<VisionStream> DialAsync(int port, byte[] publicKey, string shortId, int targetPort)
    {
        var tls = new TlsClientOptions(ServerName, false, false, [], TlsClientOptions.DefaultProtocols, [], null, null, "chrome",
            new RealityOptions(true, publicKey, Convert.FromHexString(shortId)));
        var options = new VlessOutboundOptions("reality-test", new ProxyServerOptions("127.0.0.1", (ushort)port, DialOptions.Default), UserId,
            VlessOptionsParser.Vision, ProxyNetwork.Tcp | ProxyNetwork.Udp, tls, null, VlessPacketEncoding.Xudp);
        using var vless = new VlessOutbound(options, new OutboundContext(new Sluice.Tests.PlainSockets()), NullLogger.Instance);
        var stream = await vless.DialTcpAsync(new Destination(NetAddress.Parse("127.0.0.1"), (ushort)targetPort), CancellationToken.None);
        return Assert.IsType<VisionStream>(stream);
    }

    private static string Who(int port) => $"vless \"reality-test\" (127.0.0.1:{port})";

    private static (byte[] Private, byte[] Public) RealityKeys()
    {
        var privateKey = RandomNumberGenerator.GetBytes(32);
        X25519.ClampPrivateKey(privateKey);
        var publicKey = new byte[32];
        X25519.ScalarMultBase(privateKey, publicKey);
        return (privateKey, publicKey);
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer);
        return buffer;
    }

    private static void Stop(Process server)
    {
        if (!server.HasExited) server.Kill();
        server.WaitForExit();
    }
}
