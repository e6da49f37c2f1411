using Sluice.Core.Dns;

namespace Sluice.Core.Tests.Dns;

/// <summary>The Clash API's /dns/query decoding: every record type a dashboard shows, compression, and broken answers.</summary>
public sealed class DnsLookupTests
{
    // www.example. CNAME web.example. (the owner and the target by compression pointers), web.example. A, a TXT of two
    // strings (one with a quote), an unknown type, and an OPT in the additional section that is left out.
    private static readonly byte[] Response = Convert.FromHexString(
        "1234" + "8180" + "0001" + "0004" + "0000" + "0001"
        + "03777777076578616d706c6500" + "0001" + "0001"                       // question www.example. A IN (name at 12)
        + "c00c" + "0005" + "0001" + "0000012c" + "0006" + "03776562" + "c010" // CNAME web.example. (label + pointer to "example")
        + "03776562c010" + "0001" + "0001" + "0000003c" + "0004" + "c0000250"   // web.example. A 192.0.2.80
        + "c00c" + "0010" + "0001" + "0000003c" + "0010" + "03612262" + "0b68656c6c6f20776f726c64" // TXT "a\"b" "hello world"
        + "c00c" + "fde8" + "0001" + "0000003c" + "0003" + "0a0b0c"             // TYPE65000, 3 bytes
        + "00" + "0029" + "04d0" + "00000000" + "0000");                        // OPT

    [Fact]
    public void Decode_ReadsTheQuestionFlagsAndRecords_InPresentationForm()
    {
        var view = DnsLookup.Decode(Response);

        Assert.Equal(0, view.Rcode);
        Assert.Equal(("www.example.", DnsType.A, (ushort)1), (view.QuestionName, view.QuestionType, view.QuestionClass));
        Assert.True(view.RecursionDesired);
        Assert.True(view.RecursionAvailable);
        Assert.False(view.Truncated);
        Assert.Equal(
            [
                new DnsRecordView("www.example.", DnsType.CNAME, 300, "web.example."),
                new DnsRecordView("web.example.", DnsType.A, 60, "192.0.2.80"),
                new DnsRecordView("www.example.", DnsType.TXT, 60, "\"a\\\"b\" \"hello world\""),
                new DnsRecordView("www.example.", 65000, 60, "\\# 3 0a0b0c"),
            ],
            view.Answer);
        Assert.Empty(view.Authority);
        Assert.Empty(view.Additional); // the OPT pseudo-record is not a record people asked for
    }

    [Fact]
    public void Decode_OfATruncatedAnswer_SaysItIsMalformed()
    {
        var e = Assert.Throws<DnsLookupException>(() => DnsLookup.Decode(Response.AsSpan(0, Response.Length - 20)));

        Assert.Equal("the DNS server's answer is malformed", e.Message);
    }

    [Fact]
    public void Encode_AsksOneRecursiveQuestion_AndRefusesWhatIsNotADomainName()
    {
        byte[] query = DnsLookup.Encode("Example.ORG.", DnsType.AAAA, 0x4242)!;

        Assert.Equal("4242" + "0100" + "0001" + "0000" + "0000" + "0000" + "076578616d706c65036f726700" + "001c" + "0001", Convert.ToHexString(query).ToLowerInvariant());
        Assert.Null(DnsLookup.Encode("bad name.example", DnsType.A, 1));
        Assert.False(DnsLookup.IsDomainName("a..b"));
    }
}
