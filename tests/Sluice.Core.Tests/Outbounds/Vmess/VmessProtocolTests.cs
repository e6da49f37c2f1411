using System.Security.Cryptography;
using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Vmess;

namespace Sluice.Core.Tests.Outbounds.Vmess;

/// <summary>
/// The VMess AEAD header and body against known answers computed independently (vmess_vectors.py: Python's
/// hmac, hashlib and the cryptography package, from v2fly's VMess description), with the same fixed
/// randomness: user b831381d-…, time 1700000000, auth ID random 01020304, connection nonce a0…a7, body key
/// 00…0f, body IV 10…1f, V 0x2a.
/// </summary>
public sealed class VmessProtocolTests
{
    private const string CommandKey = "b50d916ac0cec067981af8e5f38a758f";
    private const string AuthIdKey = "1415ba74ca8b3d041a8f583fb4116315";
    private const string AuthId = "4774fe5cc901ea4f81f2159909767a36";
    private const string Instruction = "01101112131415161718191a1b1c1d1e1f000102030405060708090a0b0c0d0e0f2a0533000101bb020b6578616d706c652e636f6daabbcc045433a0";
    private const string SealedHeader = "4774fe5cc901ea4f81f2159909767a36632d70cf1b8a76bc945366fd148649d75fd9a0a1a2a3a4a5a6a762e5f4443e2938813675bd05d2f4c27bfb0cd6945ceda401a2d7860a4924c7d25c388e9d9f69f82b875a0d3dd40a554711b830c7c4601b1e272d5fb1a95e31120aeb3897e949ba88a79deb9f";
    private const string ResponseHeader = "936c422a7a3f0c4835561f50648898c4d6e3da10e4a6a796c6b2adda265894aa176da8de0a92";
    private const string ResponseBodyAesPadded = "c23f62e34344a94417ac72c022d0eedf5f9aebdb6b91dc1596bda773ecc555555555555555555555555555555555555555555555555555555555de4e22ef1a73718b5d33eaa33a8d88cb21caa15a016b05184b3a9d5ceba7f0c1c70b96933d52ef5c0437aef203ead7be212dcce384524548f05fda91fe5ea3a7b96080b3dc85fc43c8ea010dbecf7c136f65520252476a56e442255bc55fdc230189977d107fa93c27720e25c923b23fae3897f1ced155555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555557fed910ed6ef5d19b32c05a89a80a5bdc74455555555555555555555555555555555555555555555555555";
    private const string ResponseBodyChaCha = "6080ea314ea9cf92d048a2ad57111cc0fa816cb43ab14a41c67ab16ed11ac27372378999ebc030079da3ad08f236133858c3746b404210441c7be17e7236fb8a0fcb552dff3f57bd0b18f8755a108d00009e18458cabafca7eacf9456a5c08a5223ec0b4f17371de0b00ef2a577cc15a731c244297fcb2cfb9eca4263caab6edc9d815807751b37bd6964328c801438b47c64dbd0b2bc9be38897db58b5dc46719637546a6be";
    private const string ResponseBodyAesAuthLength = "49cfe8c108c3ef619847ae50aee3a2afd9b062e34344a94417ac72c022d0eedf5f9aebdb6b91dc1596bda773ecc5d343aa075e06817f977b915e0d2f675ea72e22ef1a73718b5d33eaa33a8d88cb21caa15a016b05184b3a9d5ceba7f0c1c70b96933d52ef5c0437aef203ead7be212dcce384524548f05fda91fe5ea3a7b96080b3dc85fc43c8ea010dbecf7c136f65520252476a56e442255bc55fdc230189977d107fa93c27720e25c923b23fae3897f1ced161a1524a02e1e0ebe62818fce252e8502665910ed6ef5d19b32c05a89a80a5bdc744";
    private const string RequestBodyAes = "fcb38c36fc99c691f82a184424b20450abd5ce9d0657d987147dca4860e39ece6380d0948e5335c1d866430ee2a52d77f94eb568da9f";

    private static readonly byte[] User = Guid.Parse("b831381d-6324-4d53-ad4f-8cda48b30811").ToByteArray(bigEndian: true);
    private static readonly byte[] Random33 = [.. Enumerable.Range(0, 32).Select(i => (byte)i), 0x2A];

    private static VmessSession Session(VmessSecurity security = VmessSecurity.Aes128Gcm, bool padding = false, bool authenticatedLength = false) =>
        new(security, padding, authenticatedLength, Random33);

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void CommandKey_AndAuthIdKey_MatchTheIndependentKdf()
    {
        byte[] cmdKey = VmessKdf.CommandKey(User);

        Assert.Equal(CommandKey, Convert.ToHexStringLower(cmdKey));
        Assert.Equal(AuthIdKey, Convert.ToHexStringLower(VmessKdf.Derive16(cmdKey, VmessKdf.AuthIdKey)));
    }

    [Fact]
    public void AuthId_IsTimeRandomCrc_UnderAesEcb()
    {
        byte[] authId = new byte[16];
        VmessHeader.WriteAuthId(VmessKdf.CommandKey(User), 1700000000, [1, 2, 3, 4], authId);

        Assert.Equal(AuthId, Convert.ToHexStringLower(authId));
    }

    [Fact]
    public void Instruction_ForADomainTarget_MatchesTheSpecLayout()
    {
        Span<byte> output = stackalloc byte[VmessHeader.MaxInstruction];
        int n = VmessHeader.WriteInstruction(output, Session(), VmessHeader.Tcp, Destination.Named("example.com", 443), [0xAA, 0xBB, 0xCC]);

        Assert.Equal(Instruction, Convert.ToHexStringLower(output[..n]));
    }

    [Fact]
    public void SealedHeader_MatchesTheIndependentSeal()
    {
        byte[] sealedHeader = VmessHeader.Seal(VmessKdf.CommandKey(User), Hex(Instruction), Hex(AuthId), [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7]);

        Assert.Equal(SealedHeader, Convert.ToHexStringLower(sealedHeader));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100)]
    public void ResponseHeader_IsTakenOff_HoweverItIsSplit(int piece)
    {
        byte[] data = [.. Hex(ResponseHeader), .. "body"u8];
        var header = new VmessResponseHeader(Session());
        int used = 0;
        while (!header.Done) used += header.Consume(data.AsSpan(used, Math.Min(piece, data.Length - used)));

        Assert.Equal(Hex(ResponseHeader).Length, used);
    }

    [Fact]
    public void ResponseHeader_ForAnotherRequest_IsRefused_WithAReason()
    {
        byte[] random = [.. Random33[..32], 0x2B]; // same keys, another V
        var header = new VmessResponseHeader(new VmessSession(VmessSecurity.Aes128Gcm, false, false, random));

        var e = Assert.Throws<IOException>(() => header.Consume(Hex(ResponseHeader)));
        Assert.Contains("another request", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResponseHeader_Tampered_DoesNotAuthenticate()
    {
        byte[] data = Hex(ResponseHeader);
        data[^1] ^= 1;

        var e = Assert.Throws<IOException>(() => new VmessResponseHeader(Session()).Consume(data));
        Assert.Contains("does not authenticate", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ResponseBodyAesPadded, VmessSecurity.Aes128Gcm, true, false)]
    [InlineData(ResponseBodyChaCha, VmessSecurity.ChaCha20Poly1305, false, false)]
    [InlineData(ResponseBodyAesAuthLength, VmessSecurity.Aes128Gcm, false, true)]
    public async Task ResponseBody_Opens_ToThePayloads_ThenEnds(string body, VmessSecurity security, bool padding, bool authenticatedLength)
    {
        using var stream = new VmessStream(new MemoryStream(Hex(body)), Session(security, padding, authenticatedLength), packets: false, "vmess \"t\"");

        byte[] all = await ReadAll(stream, 7);

        Assert.Equal("hello, vmess" + new string('x', 100), Encoding.ASCII.GetString(all));
    }

    [Fact]
    public async Task ResponseBody_InPacketMode_GivesOneLengthPrefixedFramePerChunk()
    {
        using var stream = new VmessStream(new MemoryStream(Hex(ResponseBodyChaCha)), Session(VmessSecurity.ChaCha20Poly1305), packets: true, "vmess \"t\"");

        byte[] all = await ReadAll(stream, 4096);

        Assert.Equal([0, 12, .. "hello, vmess"u8, 0, 100, .. Enumerable.Repeat((byte)'x', 100)], all);
    }

    [Fact]
    public async Task RequestBody_IsMaskedAesGcmChunks_AndHalfCloseSendsTheEndChunk()
    {
        var wire = new MemoryStream();
        using var stream = new VmessStream(wire, Session(), packets: false, "vmess \"t\"");

        await stream.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        stream.ShutdownWrite();

        Assert.Equal(RequestBodyAes, Convert.ToHexStringLower(wire.ToArray()));
    }

    [Fact]
    public async Task TruncatedBody_FailsWithAReason_NotAnEnd()
    {
        byte[] body = Hex(ResponseBodyAesPadded)[..40];
        using var stream = new VmessStream(new MemoryStream(body), Session(padding: true), packets: false, "vmess \"t\"");

        var e = await Assert.ThrowsAsync<IOException>(() => ReadAll(stream, 4096));
        Assert.Contains("inside a chunk", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Garbage from a server (any length, any security) ends in an IOException or a clean end, never another exception.</summary>
    [Fact]
    public async Task GarbageAnswers_GiveACleanError()
    {
        var random = new Random(1234);
        foreach (var security in new[] { VmessSecurity.Aes128Gcm, VmessSecurity.ChaCha20Poly1305, VmessSecurity.None })
        {
            for (int i = 0; i < 300; i++)
            {
                byte[] garbage = new byte[random.Next(0, 3000)];
                random.NextBytes(garbage);
                var session = Session(security, padding: i % 2 == 0, authenticatedLength: i % 3 == 0);
                try
                {
                    new VmessResponseHeader(session).Consume(garbage);
                }
                catch (IOException)
                {
                }
                using var stream = new VmessStream(new MemoryStream(garbage), session, packets: i % 4 == 0, "vmess \"t\"");
                try
                {
                    await ReadAll(stream, 1 + random.Next(3000));
                }
                catch (IOException)
                {
                }
            }
        }
    }

    [Fact]
    public void AuthenticatedLength_AndPadding_AreOptionsOfTheRequest_ZeroHasNoChunkStream()
    {
        Assert.Equal((byte)0x1D, (byte)Session(padding: true, authenticatedLength: true).Options);
        Assert.Equal((byte)0x05, (byte)Session().Options);
        var zero = Session(VmessSecurity.Zero);
        Assert.Equal((byte)0, (byte)zero.Options);
        Assert.Equal(VmessSecurity.None, zero.Security);
    }

    private static async Task<byte[]> ReadAll(Stream stream, int bufferSize)
    {
        var all = new MemoryStream();
        byte[] buffer = new byte[bufferSize];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0) all.Write(buffer, 0, n);
        return all.ToArray();
    }
}
