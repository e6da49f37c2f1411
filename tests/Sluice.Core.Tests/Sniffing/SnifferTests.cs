using System.Text;
using Sluice.Core.Sniffing;

namespace Sluice.Core.Tests.Sniffing;

public class SnifferTests
{
    /// <summary>
    /// A real TLS 1.3 ClientHello from `openssl s_client -connect 127.0.0.1:48443 -servername www.example.com -tls1_3`
    /// (OpenSSL 3), captured with `nc -l`: one 244-byte handshake record.
    /// </summary>
    private static readonly byte[] OpenSslClientHello = Convert.FromHexString(
        "16030100f4010000f00303e0fd393c245ce04defbc81e90f971b2cb2cf04226f4097cfa01269cd382e0c3a2093f741c9" +
        "8c82a814f1a0a1959225b0882ab33d70c608f0412f8cf9ef88db2c5b000813021303130100ff0100009f000000140012" +
        "00000f7777772e6578616d706c652e636f6d000b000403000102000a00160014001d0017001e00190018010001010102" +
        "01030104002300000016000000170000000d001e001c040305030603080708080809080a080b08040805080604010501" +
        "0601002b0003020304002d00020101003300260024001d00203cf46e2896ec6444f8a40fab3c883d157548c5fd528572" +
        "db971350e016160f75");

    [Fact]
    public void Tls_RealClientHello_YieldsServerName()
    {
        Assert.Equal(249, OpenSslClientHello.Length);
        Assert.Equal(new SniffResult(SniffStatus.Found, "tls", "www.example.com"), Sniffer.Sniff(OpenSslClientHello));
    }

    [Fact]
    public void Tls_TrailingBytesAfterTheHello_AreIgnored()
    {
        byte[] withAlert = [.. OpenSslClientHello, .. Convert.FromHexString("15030100020232")];
        Assert.Equal("www.example.com", Sniffer.Sniff(withAlert).Domain);
    }

    [Fact]
    public void Tls_EveryTruncation_NeedsMore()
    {
        for (int n = 1; n < OpenSslClientHello.Length; n++)
            Assert.Equal(SniffStatus.NeedMore, Sniffer.Sniff(OpenSslClientHello.AsSpan(0, n)).Status);
    }

    [Fact]
    public void Tls_HelloSplitAcrossRecords_IsJoined()
    {
        // Re-frame the 244-byte handshake as two records of 100 and 144 bytes (RFC 8446 §5.1 allows it).
        var handshake = OpenSslClientHello.AsSpan(5);
        byte[] split = [0x16, 0x03, 0x01, 0x00, 100, .. handshake[..100], 0x16, 0x03, 0x01, 0x00, 144, .. handshake[100..]];
        Assert.Equal(new SniffResult(SniffStatus.Found, "tls", "www.example.com"), Sniffer.Sniff(split));
        Assert.Equal(SniffStatus.NeedMore, Sniffer.Sniff(split.AsSpan(0, 120)).Status);
    }

    [Fact]
    public void Tls_WithoutServerName_IsFoundWithoutDomain()
    {
        // Drop the server_name extension: it is the first one (type 0, 20 bytes of data + 4 header).
        var hello = OpenSslClientHello.ToList();
        int ext = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 8 + 2 + 2; // record, handshake hdr, version, random, session id, suites, compression, ext len
        Assert.Equal(0, hello[ext] << 8 | hello[ext + 1]);
        hello.RemoveRange(ext, 24);
        byte[] b = [.. hello];
        WriteU16(b, 3, b.Length - 5);
        b[6] = 0; b[7] = (byte)((b.Length - 9) >> 8); b[8] = (byte)(b.Length - 9);
        WriteU16(b, ext - 2, b.Length - ext);
        Assert.Equal(new SniffResult(SniffStatus.Found, "tls", null), Sniffer.Sniff(b));
    }

    [Fact]
    public void Tls_CorruptLengths_AreNotMatched_WithoutThrowing()
    {
        var rng = new Random(1);
        for (int i = 0; i < 2000; i++)
        {
            byte[] b = (byte[])OpenSslClientHello.Clone();
            int at = rng.Next(5, b.Length);
            b[at] = (byte)rng.Next(256);
            var r = Sniffer.Sniff(b); // must not throw; any status is fine
            Assert.True(Enum.IsDefined(r.Status));
        }
        byte[] badExtensions = (byte[])OpenSslClientHello.Clone();
        badExtensions[5 + 4 + 2 + 32 + 1 + 32 + 2 + 8 + 2] = 0xff; // extensions length past the end
        Assert.Equal(SniffStatus.NotMatched, Sniffer.Sniff(badExtensions).Status);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", "example.org")]
    [InlineData("GET / HTTP/1.1\r\nUser-Agent: curl\r\nhost:  Example.ORG:8080\r\nAccept: */*\r\n\r\n", "example.org")]
    [InlineData("POST /x HTTP/1.0\r\nHOST: [2001:db8::1]:8443\r\n\r\n", "2001:db8::1")]
    [InlineData("CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\n", "a.b")]
    public void Http_Host_IsFound_WithoutPort(string request, string host)
    {
        Assert.Equal(new SniffResult(SniffStatus.Found, "http", host), Sniffer.Sniff(Encoding.ASCII.GetBytes(request)));
    }

    [Theory]
    [InlineData("G")]
    [InlineData("GE")]
    [InlineData("OPTIO")]
    [InlineData("GET / HTTP/1.1")]
    [InlineData("GET / HTTP/1.1\r\nAccept: */*\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: exam")]
    public void Http_Incomplete_NeedsMore(string request)
    {
        Assert.Equal(SniffStatus.NeedMore, Sniffer.Sniff(Encoding.ASCII.GetBytes(request)).Status);
    }

    [Fact]
    public void Http_NoHostBeforeHeadersEnd_IsFoundWithoutDomain()
    {
        Assert.Equal(new SniffResult(SniffStatus.Found, "http", null), Sniffer.Sniff("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n"u8));
    }

    [Fact]
    public void Http_HeadersBeyond8KiB_StopWaiting()
    {
        string big = "GET / HTTP/1.1\r\nX-Pad: " + new string('a', 9000) + "\r\nHost: late.example\r\n\r\n";
        Assert.NotEqual(SniffStatus.NeedMore, Sniffer.Sniff(Encoding.ASCII.GetBytes(big)).Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData("SSH-9.0-NotAVersion\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("GETX / HTTP/1.1\r\n")]
    [InlineData("GET / SPDY/3\r\nHost: a\r\n\r\n")]
    public void Garbage_IsNotMatched(string text)
    {
        var status = Sniffer.Sniff(Encoding.ASCII.GetBytes(text)).Status;
        Assert.Equal(text.Length == 0 ? SniffStatus.NeedMore : SniffStatus.NotMatched, status);
    }

    [Fact]
    public void RandomBytes_NeverThrow_AndNeverInventADomain()
    {
        var rng = new Random(7);
        var buffer = new byte[600];
        var seen = new HashSet<SniffStatus>();
        for (int i = 0; i < 5000; i++)
        {
            rng.NextBytes(buffer);
            if (i % 2 == 0) { buffer[0] = 0x16; buffer[1] = 3; }
            var input = buffer.AsSpan(0, rng.Next(buffer.Length));
            var result = Sniffer.Sniff(input);
            // Empty input is NeedMore by definition: only what the bytes made the sniffer say counts.
            if (!input.IsEmpty) seen.Add(result.Status);
            Assert.True(Enum.IsDefined(result.Status), $"input {i}: status {(int)result.Status}");
            if (result.Status != SniffStatus.Found)
            {
                Assert.Null(result.Protocol);
                Assert.Null(result.Domain);
            }
            else
            {
                Assert.NotNull(result.Protocol);
                // A name is only ever read out of the bytes, never made up.
                if (result.Domain is not null)
                    Assert.Contains(result.Domain, System.Text.Encoding.Latin1.GetString(input), StringComparison.OrdinalIgnoreCase);
            }
        }
        // The TLS-looking half asks for more bytes (record lengths past the end), the rest is refused.
        Assert.Contains(SniffStatus.NeedMore, seen);
        Assert.Contains(SniffStatus.NotMatched, seen);
    }

    private static void WriteU16(byte[] b, int at, int value)
    {
        b[at] = (byte)(value >> 8);
        b[at + 1] = (byte)value;
    }
}
