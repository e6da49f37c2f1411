using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Sluice.Core.Sniffing;

namespace Sluice.Core.Tests.Sniffing;

/// <summary>
/// The sniffers beyond TLS/HTTP/DNS, against first payloads captured from real clients on this machine
/// (Debian 12: OpenSSH 9.2 `ssh`, stun-client 0.97 `stun`, ntpsec `sntp`, OpenSSL 3 `s_client -dtls1_2`),
/// each sent to a listener in a fresh network namespace that printed the first bytes it received, and against
/// the byte layouts the specifications give where no client was at hand (BEP 3/5/29, MS-RDPBCGR 4.1.1, RFC 9001 A.1).
/// </summary>
public class ProtocolSnifferTests
{
    private const string SshClient = "5353482d322e302d4f70656e5353485f392e3270312044656269616e2d322b646562313275360d0a";
    private const string StunClient = "0001000801c44d2dd204ac5f525643015845c9270003000400000000";
    private const string SntpClient = "e3000000000000000000000000000000000000000000000000000000000000000000000000000000eebae6c3bbce8800";
    private const string OpenSslDtlsHello =
        "16feff000000000000000000d4010000c800000000000000c8fefd3cc5c0ddcebb31670a5514c73354d9105d319672472b0d4578c658ab9e82289e00" +
        "0000d6c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c013003300ad00ab00ac00aa00af00a7009d" +
        "0099009c009800ab0035002f00ff0100006a000b000403000102000a000c000a001d0017001e00190018002300000016000000170000000d002a00" +
        "2804030503060308070808081a081b081c0809080a080b080408050806040105010601030303010302040205020602";

    /// <summary>The handshake message of the real OpenSSL ClientHello in SnifferTests (record header removed): QUIC's CRYPTO data.</summary>
    private static readonly byte[] ClientHelloMessage = Convert.FromHexString(
        "010000f00303e0fd393c245ce04defbc81e90f971b2cb2cf04226f4097cfa01269cd382e0c3a2093f741c9" +
        "8c82a814f1a0a1959225b0882ab33d70c608f0412f8cf9ef88db2c5b000813021303130100ff0100009f000000140012" +
        "00000f7777772e6578616d706c652e636f6d000b000403000102000a00160014001d0017001e00190018010001010102" +
        "01030104002300000016000000170000000d001e001c040305030603080708080809080a080b08040805080604010501" +
        "0601002b0003020304002d00020101003300260024001d00203cf46e2896ec6444f8a40fab3c883d157548c5fd528572" +
        "db971350e016160f75");

    private static SniffResult Found(string protocol, string? domain = null) => new(SniffStatus.Found, protocol, domain);

    [Fact]
    public void Ssh_RealOpenSshBanner_IsSsh_AndItsPrefixAsksForMore()
    {
        byte[] banner = Convert.FromHexString(SshClient);
        Assert.Equal(Found("ssh"), Sniffer.Sniff(banner));
        Assert.Equal(SniffStatus.NeedMore, Sniffer.Sniff(banner.AsSpan(0, 5)).Status);
        Assert.Equal(SniffStatus.NotMatched, Sniffer.Sniff("SSH-3.0-x\r\n"u8).Status);
    }

    [Fact]
    public void BitTorrent_PeerHandshake_IsBitTorrent()
    {
        // BEP 3: pstrlen 19, "BitTorrent protocol", 8 reserved bytes (extension bits), info_hash, peer_id.
        byte[] handshake = [19, .. "BitTorrent protocol"u8, 0, 0, 0, 0, 0, 0x10, 0, 5, .. new byte[20], .. "-TR3000-abcdefghijkl"u8];
        Assert.Equal(Found("bittorrent"), Sniffer.Sniff(handshake));
        Assert.Equal(SniffStatus.NeedMore, Sniffer.Sniff(handshake.AsSpan(0, 10)).Status);
    }

    [Fact]
    public void Rdp_ConnectionRequest_IsRdp()
    {
        // MS-RDPBCGR 4.1.1: TPKT, X.224 CR, "Cookie: mstshash=eltons", RDP_NEG_REQ.
        byte[] request = Convert.FromHexString("0300002c27e00000000000436f6f6b69653a206d737473686173683d656c746f6e730d0a0100080000000000");
        Assert.Equal(Found("rdp"), Sniffer.Sniff(request));
        byte[] wrongLength = (byte[])request.Clone();
        wrongLength[3] = 0x40;
        Assert.NotEqual(Found("rdp"), Sniffer.Sniff(wrongLength));
    }

    [Fact]
    public void Stun_RealClassicClient_AndRfc5389Request_AreStun()
    {
        Assert.Equal(Found("stun"), Sniffer.SniffDatagram(Convert.FromHexString(StunClient)));
        byte[] modern = Convert.FromHexString("000100002112a442" + "b7e7a701bc34d686fa87dfae");
        Assert.Equal(Found("stun"), Sniffer.SniffDatagram(modern));
        byte[] badLength = Convert.FromHexString(StunClient);
        badLength[3] = 12;
        Assert.NotEqual("stun", Sniffer.SniffDatagram(badLength).Protocol);
    }

    [Fact]
    public void Ntp_RealSntpRequest_IsNtp() =>
        Assert.Equal(Found("ntp"), Sniffer.SniffDatagram(Convert.FromHexString(SntpClient)));

    [Fact]
    public void Dtls_RealOpenSslClientHello_IsDtls() =>
        Assert.Equal(Found("dtls"), Sniffer.SniffDatagram(Convert.FromHexString(OpenSslDtlsHello)));

    [Fact]
    public void BitTorrent_UtpSyn_AndDhtQuery_AreBitTorrent()
    {
        // BEP 29: ST_SYN (4) << 4 | version 1, no extension, connection id, timestamps, window, seq 1, ack 0.
        byte[] syn = Convert.FromHexString("41003039" + "0001e240" + "00000000" + "00100000" + "0001" + "0000");
        Assert.Equal(Found("bittorrent"), Sniffer.SniffDatagram(syn));
        // BEP 5's ping query.
        Assert.Equal(Found("bittorrent"), Sniffer.SniffDatagram("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"u8));
    }

    [Fact]
    public void UnknownDatagram_IsNotMatched() =>
        Assert.Equal(SniffStatus.NotMatched, Sniffer.SniffDatagram("hello, world"u8).Status);

    [Theory]
    // RFC 9001 A.1 and RFC 9369 A.1, DCID 0x8394c8f03e515708.
    [InlineData(0x00000001u, "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2")]
    [InlineData(0x6b3343cfu, "8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f", "45b95e15235d6f45a6b19cbcb0294ba9")]
    public void Quic_InitialKeys_MatchTheRfcVectors(uint version, string key, string iv, string hp)
    {
        Span<byte> k = stackalloc byte[16], i = stackalloc byte[12], h = stackalloc byte[16];
        QuicInitial.DeriveKeys(version, Convert.FromHexString("8394c8f03e515708"), k, i, h);
        Assert.Equal(key, Convert.ToHexStringLower(k));
        Assert.Equal(iv, Convert.ToHexStringLower(i));
        Assert.Equal(hp, Convert.ToHexStringLower(h));
    }

    [Theory]
    [InlineData(0x00000001u, 0)]
    [InlineData(0x6b3343cfu, 1)]
    public void Quic_ClientInitial_YieldsTheServerName(uint version, int initialType)
    {
        byte[] packet = ProtectedInitial(version, initialType, ClientHelloMessage);
        Assert.Equal(Found("quic", "www.example.com"), Sniffer.SniffDatagram(packet));
    }

    [Fact]
    public void Quic_DamagedInitial_IsNotAName_AndTruncationsNeverThrow()
    {
        byte[] packet = ProtectedInitial(1, 0, ClientHelloMessage);
        byte[] damaged = (byte[])packet.Clone();
        damaged[^1] ^= 1;
        Assert.Null(Sniffer.SniffDatagram(damaged).Domain);
        for (int n = 0; n < packet.Length; n += 7) Sniffer.SniffDatagram(packet.AsSpan(0, n));
    }

    [Fact]
    public void FuzzTargets_MutatedCapturesAndRandomBytes_NeverThrow()
    {
        var random = new Random(9001);
        byte[][] seeds = [Convert.FromHexString(SshClient), Convert.FromHexString(StunClient), Convert.FromHexString(SntpClient),
            Convert.FromHexString(OpenSslDtlsHello), ProtectedInitial(1, 0, ClientHelloMessage), ProtectedInitial(0x6b3343cf, 1, ClientHelloMessage)];
        for (int i = 0; i < 3000; i++)
        {
            byte[] input = i % 3 == 0 ? new byte[random.Next(0, 1400)] : (byte[])seeds[i % seeds.Length].Clone();
            if (i % 3 == 0) random.NextBytes(input);
            else for (int flips = random.Next(1, 8); flips > 0 && input.Length > 0; flips--) input[random.Next(input.Length)] ^= (byte)random.Next(1, 256);
            var data = input.AsSpan(0, random.Next(0, input.Length + 1));
            SnifferFuzzTargets.All(data);
            SnifferFuzzTargets.Quic(data);
            SnifferFuzzTargets.BitTorrent(data);
            SnifferFuzzTargets.Rdp(data);
        }
    }

    /// <summary>A client Initial as RFC 9001 §5 protects it: CRYPTO frame + PADDING to 1200 bytes, AES-128-GCM, header protection.</summary>
    private static byte[] ProtectedInitial(uint version, int type, byte[] crypto)
    {
        byte[] dcid = Convert.FromHexString("8394c8f03e515708");
        byte[] key = new byte[16], iv = new byte[12], hp = new byte[16];
        QuicInitial.DeriveKeys(version, dcid, key, iv, hp);
        const int pnLength = 2, total = 1200;
        var header = new List<byte> { (byte)(0xC0 | (type << 4) | (pnLength - 1)) };
        header.AddRange(BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(version)));
        header.Add((byte)dcid.Length);
        header.AddRange(dcid);
        header.Add(0); // SCID length
        header.Add(0); // token length
        int lengthField = total - header.Count - 2;
        header.Add((byte)(0x40 | (lengthField >> 8)));
        header.Add((byte)lengthField);
        int pnOffset = header.Count;
        header.AddRange([0x00, 0x02]); // packet number 2
        byte[] plain = new byte[total - header.Count - 16];
        plain[0] = 0x06; // CRYPTO, offset 0, 2-byte length
        plain[1] = 0x00;
        plain[2] = (byte)(0x40 | (crypto.Length >> 8));
        plain[3] = (byte)crypto.Length;
        crypto.CopyTo(plain, 4);
        byte[] nonce = (byte[])iv.Clone();
        nonce[^1] ^= 2;
        byte[] aad = [.. header];
        byte[] cipher = new byte[plain.Length], tag = new byte[16];
        using (var gcm = new AesGcm(key, 16)) gcm.Encrypt(nonce, plain, cipher, tag, aad);
        byte[] packet = [.. aad, .. cipher, .. tag];
        using var aes = Aes.Create();
        aes.Key = hp;
        byte[] mask = aes.EncryptEcb(packet.AsSpan(pnOffset + 4, 16).ToArray(), PaddingMode.None);
        packet[0] ^= (byte)(mask[0] & 0x0F);
        for (int i = 0; i < pnLength; i++) packet[pnOffset + i] ^= mask[1 + i];
        return packet;
    }
}
