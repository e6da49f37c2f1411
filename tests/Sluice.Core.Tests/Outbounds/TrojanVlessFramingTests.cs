using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Fuzz.Targets;
using Sluice.Core.Outbounds.Transport;
using Sluice.Core.Outbounds.Trojan;
using Sluice.Core.Outbounds.Vless;
using Sluice.Packets;

namespace Sluice.Core.Tests.Outbounds;

public sealed class TrojanVlessFramingTests
{
    private static readonly Destination Target = new(NetAddress.Parse("198.51.100.10"), 7007);

    [Fact]
    public void TrojanRequest_IsHexSha224_Crlf_CommandAddress_Crlf()
    {
        // SHA-224("password") from the FIPS 180-4 algorithm: d63dc919…8d01.
        byte[] request = TrojanProtocol.Request(TrojanProtocol.PasswordKey("password"), TrojanProtocol.Connect, Target);

        Assert.Equal("d63dc919e201d7bc4c825630d2cf25fdc93d4b2f0d46706d29038d01\r\n", Encoding.ASCII.GetString(request, 0, 58));
        Assert.Equal(new byte[] { 1, 1, 198, 51, 100, 10, 0x1B, 0x5F, (byte)'\r', (byte)'\n' }, request[58..]);
    }

    [Fact]
    public void TrojanUdpFrame_RoundTrips_AndIsIncompleteUntilWhole()
    {
        var framing = new TrojanUdpFraming(Target);
        byte[] frame = new byte[64];
        int n = framing.Encode("hello"u8, frame);

        Assert.Equal(0, framing.Decode(frame.AsSpan(0, n - 1), out _, out _, out _));
        Assert.Equal(n, framing.Decode(frame.AsSpan(0, n), out int offset, out int length, out bool skip));
        Assert.False(skip);
        Assert.Equal("hello", Encoding.ASCII.GetString(frame, offset, length));
    }

    [Fact]
    public void VlessRequest_PutsPortBeforeAddress_WithVlessAddressTypes()
    {
        byte[] id = VlessProtocol.ParseUserId("b831381d-6324-4d53-ad4f-8cda48b30811")!;
        byte[] request = VlessProtocol.Request(id, VlessProtocol.Tcp, new Destination(default, 443, "example.com"));

        Assert.Equal(0, request[0]);
        Assert.Equal(id, request[1..17]);
        Assert.Equal(new byte[] { 0, VlessProtocol.Tcp, 0x01, 0xBB, 2, 11 }, request[17..23]);
        Assert.Equal("example.com", Encoding.ASCII.GetString(request, 23, 11));
    }

    [Fact]
    public void VlessResponseHeader_SplitAcrossReads_IsTakenOff()
    {
        var header = new VlessResponseHeader();

        Assert.Equal(1, header.Consume([0]));
        Assert.Equal(2, header.Consume(new byte[] { 2, 0xAA }));
        Assert.False(header.Done);
        Assert.Equal(1, header.Consume([0xBB, (byte)'d']));
        Assert.True(header.Done);
    }

    [Fact]
    public void VlessResponseHeader_OtherVersion_IsRefused() =>
        Assert.Throws<IOException>(() => new VlessResponseHeader().Consume([1, 0]));

    [Fact]
    public void Xudp_FirstFrameOpens_LaterFramesKeep_AndAnswersDecode()
    {
        var framing = new XudpFraming(Target);
        byte[] first = new byte[128], second = new byte[128];
        int a = framing.Encode("one"u8, first);
        int b = framing.Encode("two"u8, second);

        Assert.Equal(XudpFraming.StatusNew, first[4]);
        Assert.Equal(XudpFraming.StatusKeep, second[4]);
        Assert.Equal(a - 8, b); // the global id rides only in the New frame
        Assert.Equal(b, XudpFraming.TryReadFrame(second.AsSpan(0, b), out int offset, out int length, out bool skip));
        Assert.False(skip);
        Assert.Equal("two", Encoding.ASCII.GetString(second, offset, length));
    }

    [Fact]
    public void WebSocketHeader_ServerTextFrame_IsRead_AndMaskedServerFrameRefused()
    {
        Assert.Equal(2, WebSocketFrame.TryReadHeader([0x81, 0x05, (byte)'H'], out var header));
        Assert.Equal(new WebSocketFrameHeader(true, WebSocketFrame.Text, 5), header);
        Assert.Equal(-1, WebSocketFrame.TryReadHeader([0x82, 0x85, 1, 2, 3, 4], out _));
        Assert.Equal(-1, WebSocketFrame.TryReadHeader([0x09, 0x00], out _)); // fragmented ping
    }

    [Fact]
    public void WebSocketMask_IsItsOwnInverse_ForAnyLength()
    {
        byte[] payload = Enumerable.Range(0, 37).Select(i => (byte)i).ToArray();
        byte[] masked = new byte[37], back = new byte[37];

        WebSocketFrame.MaskCopy(payload, masked, 0x37FA213D);
        WebSocketFrame.MaskCopy(masked, back, 0x37FA213D);

        Assert.Equal(payload, back);
        Assert.Equal(payload[0] ^ 0x37, masked[0]); // RFC 6455 §5.3: octet i XOR key[i mod 4]
        Assert.Equal(payload[5] ^ 0xFA, masked[5]);
    }

    [Fact]
    public void WebSocketUpgrade_CarriesEarlyData_AsBase64Url_InTheNamedHeader()
    {
        var options = new WebSocketTransportOptions("/ws", [], 2048, "Sec-WebSocket-Protocol");
        string request = Encoding.ASCII.GetString(WebSocketHandshake.Request(options, "cdn.example", "a2V5", [0xFB, 0xFF, 0x01]));

        Assert.StartsWith("GET /ws HTTP/1.1\r\nHost: cdn.example\r\n", request, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Protocol: -_8B\r\n", request, StringComparison.Ordinal);
    }

    [Fact]
    public void WebSocketAnswer_WithWrongAccept_IsRefused_AndRightOneAccepted()
    {
        // RFC 6455 §1.3's example key and accept value.
        const string key = "dGhlIHNhbXBsZSBub25jZQ==";
        byte[] good = Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
        byte[] refused = Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\n\r\n");

        Assert.Null(WebSocketHandshake.Check(good, key));
        Assert.Contains("check transport.path", WebSocketHandshake.Check(refused, key), StringComparison.Ordinal);
    }

    [Fact]
    public void Decoders_SurviveRandomInputs()
    {
        var random = new Random(13);
        byte[] input = new byte[512];
        for (int i = 0; i < 20_000; i++)
        {
            random.NextBytes(input);
            var span = input.AsSpan(0, random.Next(input.Length));
            ProxyFrameFuzzTargets.VlessResponse(span);
            ProxyFrameFuzzTargets.TrojanUdpFrames(span);
            ProxyFrameFuzzTargets.XudpFrames(span);
            ProxyFrameFuzzTargets.WebSocketFrames(span);
        }
    }
}
