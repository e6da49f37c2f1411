using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>What a finished handshake leaves for the record stream, and how it went (the key share's group, whether the server asked for a retry).</summary>
/// <param name="Resumed">True when the server accepted the offered ticket (no certificate this time: the ticket's connection validated it).</param>
internal sealed record Tls13Session(Tls13CipherSuite Suite, string? Alpn, ushort Group = ClientHello.GroupX25519, bool HelloRetried = false,
    bool Resumed = false);

/// <summary>
/// The client side of a TLS 1.3 handshake (RFC 8446 §2), full or resumed with a ticket (psk_dhe_ke, §2.2; no 0-RTT):
/// 1. ClientHello (Chrome-shaped, X25519 share; hooks may fill the session id; with a cached ticket, pre_shared_key last
///    and its binder) → ServerHello: suite, share, and whether the ticket was taken;
///    or a HelloRetryRequest for P-256/P-384 → a second ClientHello with that share (§4.1.4), binder recomputed → ServerHello
/// 2. handshake keys (from the ticket's PSK when taken) → EncryptedExtensions (ALPN); resumed: straight to step 3's Finished;
///    full: [CertificateRequest], Certificate or CompressedCertificate
/// 3. full: certificate decision (hooks, else chain + name), CertificateVerify signature; then the server Finished
/// 4. CCS for middlebox compatibility, [empty Certificate], client Finished (with DeferFinished: staged, to leave with the
///    first application data); application keys both ways; the resumption master secret for the tickets that follow
/// </summary>
internal sealed class Tls13ClientHandshake(Tls13RecordLayer records, Tls13ClientOptions options)
{
    private static readonly byte[] HelloRetryRandom = Convert.FromHexString("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C");

    private const byte EncryptedExtensionsType = 8, CertificateType = 11, CertificateRequestType = 13;
    private const byte CertificateVerifyType = 15, FinishedType = 20, CompressedCertificateType = 25;
    private const int MaxCertificates = 10, MaxUncompressedChain = 1 << 20;

    private readonly HandshakeMessageBuffer _messages = new();

    /// <summary>Set by a finished handshake when the options have a session cache: where the server's tickets go.</summary>
    public TlsTicketSink? Tickets { get; private set; }

    /// <summary>The session key when this handshake's hello offered a ticket; null otherwise.</summary>
    public TlsSessionKey? OfferedTicketFor { get; private set; }

    public async Task<Tls13Session> RunAsync(CancellationToken cancellationToken)
    {
        // A ticket only for plain TLS: Reality's hello is its own (the session id seals the hello, no PSK there).
        var sessionKey = options.Sessions is not null && options.Hooks is null ? TlsSessionKey.Of(options) : null;
        var ticket = sessionKey is null ? null : options.Sessions!.Take(sessionKey);
        if (ticket is not null) OfferedTicketFor = sessionKey;
        var now = options.Sessions?.Time.GetUtcNow() ?? default;
        var hello = ClientHello.Build(options.SendSni ? options.ServerName : null, options.Alpn, options.X25519, options.ChromeAlpnWhenEmpty,
            ticket is null ? null : new PskOffer(ticket.Identity, ticket.ObfuscatedAge(now), ticket.Suite.HashLength));
        byte[]? early = ticket is null ? null : Tls13KeySchedule.EarlySecret(ticket.Suite, ticket.Psk);
        if (ticket is not null) hello.SetBinder(Tls13KeySchedule.Binder(ticket.Suite, early!, CryptographicOperations.HashData(ticket.Suite.Hash, hello.TruncatedForBinder)));
        options.Hooks?.OnClientHello(hello);
        await records.WriteAsync(Tls13RecordLayer.Handshake, hello.Message, cancellationToken).ConfigureAwait(false);

        var serverHello = await NextMessageAsync(cancellationToken).ConfigureAwait(false);
        var fields = ParseServerHello(serverHello, hello);
        if (!_messages.IsEmpty) throw new TlsException("handshake data after ServerHello in the same record", TlsAlert.UnexpectedMessage);
        var suite = fields.Suite;
        using var transcript = IncrementalHash.CreateHash(suite.Hash);
        bool changeCipherSpecSent = false;
        if (fields.Retry)
        {
            // §4.1.4: one retry, for a group offered in supported_groups but without a share; §4.4.1: the transcript
            // starts again from message_hash(Hash(ClientHello1)), then the HelloRetryRequest.
            if (fields.Group is not (ClientHello.GroupSecp256r1 or ClientHello.GroupSecp384r1))
                throw new TlsException($"the server asked for a new hello with key share group 0x{fields.Group:x4}, which was not offered", TlsAlert.IllegalParameter);
            var firstHash = CryptographicOperations.HashData(suite.Hash, hello.Message);
            byte[] messageHash = [254, 0, 0, (byte)firstHash.Length, .. firstHash];
            transcript.AppendData(messageHash);
            transcript.AppendData(serverHello);
            using var first = hello;
            // §4.1.2: the ticket again (age and binder recomputed) when its hash is the chosen suite's, else dropped.
            if (ticket is not null && ticket.Suite.Hash != suite.Hash) ticket = null;
            hello = hello.Retry(fields.Group, fields.Cookie,
                ticket is null ? null : new PskOffer(ticket.Identity, ticket.ObfuscatedAge(options.Sessions!.Time.GetUtcNow()), ticket.Suite.HashLength));
            if (ticket is not null)
                hello.SetBinder(Tls13KeySchedule.Binder(suite, early!, CryptographicOperations.HashData(suite.Hash, [.. messageHash, .. serverHello, .. hello.TruncatedForBinder])));
            // Appendix D.4: the middlebox-compatibility CCS goes before the second ClientHello, as BoringSSL sends it.
            await records.WriteAsync(Tls13RecordLayer.ChangeCipherSpec, new byte[] { 1 }, cancellationToken).ConfigureAwait(false);
            changeCipherSpecSent = true;
            await records.WriteAsync(Tls13RecordLayer.Handshake, hello.Message, cancellationToken).ConfigureAwait(false);
            serverHello = await NextMessageAsync(cancellationToken).ConfigureAwait(false);
            fields = ParseServerHello(serverHello, hello);
            if (fields.Retry) throw new TlsException("the server sent a second HelloRetryRequest", TlsAlert.UnexpectedMessage);
            if (fields.Suite.Code != suite.Code)
                throw new TlsException("the server's ServerHello changed the cipher suite its HelloRetryRequest chose", TlsAlert.IllegalParameter);
            if (!_messages.IsEmpty) throw new TlsException("handshake data after ServerHello in the same record", TlsAlert.UnexpectedMessage);
        }
        transcript.AppendData(hello.Message);
        transcript.AppendData(serverHello);
        bool resumed = fields.PskIdentity >= 0;
        if (resumed)
        {
            // §4.2.11: the one identity offered, and a suite with the ticket's hash.
            if (ticket is null) throw new TlsException("the server accepted a pre-shared key that was not offered", TlsAlert.UnsupportedExtension);
            if (fields.PskIdentity != 0) throw new TlsException($"the server selected pre-shared key {fields.PskIdentity}; only one was offered", TlsAlert.IllegalParameter);
            if (ticket.Suite.Hash != suite.Hash)
                throw new TlsException($"the server resumed with {Tls13CipherSuite.Name(suite.Code)}, whose hash is not the ticket's", TlsAlert.IllegalParameter);
        }

        using var keyShare = hello;
        var shared = hello.Agree(fields.Share!)
            ?? throw new TlsException($"the server's key share is not a valid {GroupName(hello.Group)} point", TlsAlert.IllegalParameter);
        var handshakeSecret = Tls13KeySchedule.HandshakeSecret(suite, shared, resumed ? early! : Tls13KeySchedule.EarlySecret(suite, []));
        CryptographicOperations.ZeroMemory(shared);
        if (early is not null) CryptographicOperations.ZeroMemory(early);
        var helloHash = transcript.GetCurrentHash();
        var clientHandshake = Tls13KeySchedule.DeriveSecret(suite, handshakeSecret, "c hs traffic", helloHash);
        var serverHandshake = Tls13KeySchedule.DeriveSecret(suite, handshakeSecret, "s hs traffic", helloHash);
        records.SetReadKeys(new RecordProtection(suite, serverHandshake));

        var extensions = await ExpectAsync(EncryptedExtensionsType, "EncryptedExtensions", transcript, cancellationToken).ConfigureAwait(false);
        string? alpn = ParseEncryptedExtensions(extensions);

        // Resumed: the server proves itself with the PSK (§2.2): no CertificateRequest, Certificate or CertificateVerify.
        byte[]? certificateRequestContext = resumed ? null : await AuthenticateServerAsync(transcript, cancellationToken).ConfigureAwait(false);

        var finished = await ExpectAsync(FinishedType, "Finished", null, cancellationToken).ConfigureAwait(false);
        var expected = Tls13KeySchedule.FinishedVerifyData(suite, serverHandshake, transcript.GetCurrentHash());
        if (!CryptographicOperations.FixedTimeEquals(expected, finished.AsSpan(4)))
            throw new TlsException("the server's Finished does not verify (wrong keys or a tampered handshake)", TlsAlert.DecryptError);
        transcript.AppendData(finished);
        if (!_messages.IsEmpty) throw new TlsException("handshake data after the server's Finished in the same record", TlsAlert.UnexpectedMessage);

        var masterSecret = Tls13KeySchedule.MasterSecret(suite, handshakeSecret);
        var serverFinishedHash = transcript.GetCurrentHash();
        var clientApplication = Tls13KeySchedule.DeriveSecret(suite, masterSecret, "c ap traffic", serverFinishedHash);
        var serverApplication = Tls13KeySchedule.DeriveSecret(suite, masterSecret, "s ap traffic", serverFinishedHash);

        // Appendix D.4: the session id was non-empty, so a CCS goes before the first protected record (once).
        if (!changeCipherSpecSent)
        {
            if (options.DeferFinished) records.Stage(Tls13RecordLayer.ChangeCipherSpec, [1]);
            else await records.WriteAsync(Tls13RecordLayer.ChangeCipherSpec, new byte[] { 1 }, cancellationToken).ConfigureAwait(false);
        }
        records.SetWriteKeys(new RecordProtection(suite, clientHandshake));
        var flight = new TlsWriter();
        if (certificateRequestContext is not null)
        {
            // No client certificate: an empty certificate_list, and no CertificateVerify (§4.4.2).
            int start = flight.Length;
            flight.U8(CertificateType);
            var body = flight.OpenVector(3);
            var context = flight.OpenVector(1);
            flight.Bytes(certificateRequestContext);
            flight.CloseVector(context);
            flight.CloseVector(flight.OpenVector(3));
            flight.CloseVector(body);
            transcript.AppendData(flight.Written[start..]);
        }
        var clientFinished = Tls13KeySchedule.FinishedVerifyData(suite, clientHandshake, transcript.GetCurrentHash());
        int finishedStart = flight.Length;
        flight.U8(FinishedType);
        var finishedBody = flight.OpenVector(3);
        flight.Bytes(clientFinished);
        flight.CloseVector(finishedBody);
        if (sessionKey is not null)
        {
            transcript.AppendData(flight.Written[finishedStart..]);
            Tickets = new TlsTicketSink(options.Sessions!, sessionKey, suite,
                Tls13KeySchedule.ResumptionMasterSecret(suite, masterSecret, transcript.GetCurrentHash()));
        }
        // Deferred: sealed now under the handshake keys, sent with the first application data (or before the first read).
        if (options.DeferFinished) records.Stage(Tls13RecordLayer.Handshake, flight.Written);
        else await records.WriteAsync(Tls13RecordLayer.Handshake, flight.Written.ToArray(), cancellationToken).ConfigureAwait(false);

        records.SetWriteKeys(new RecordProtection(suite, clientApplication));
        records.SetReadKeys(new RecordProtection(suite, serverApplication));
        foreach (var secret in new[] { handshakeSecret, masterSecret, clientHandshake, serverHandshake, clientApplication, serverApplication })
            CryptographicOperations.ZeroMemory(secret);
        return new Tls13Session(suite, alpn, hello.Group, changeCipherSpecSent, resumed);
    }

    /// <summary>
    /// A full handshake's server authentication: [CertificateRequest], the certificate decision (hooks, else the chain and
    /// name) and its CertificateVerify signature, each into the transcript; returns the request's context, if any.
    /// </summary>
    private async Task<byte[]?> AuthenticateServerAsync(IncrementalHash transcript, CancellationToken cancellationToken)
    {
        byte[]? certificateRequestContext = null;
        var message = await NextMessageAsync(cancellationToken).ConfigureAwait(false);
        if (message[0] == CertificateRequestType)
        {
            var request = new TlsReader(message.AsSpan(4), "CertificateRequest");
            certificateRequestContext = request.Vector(1).ToArray();
            transcript.AppendData(message);
            message = await NextMessageAsync(cancellationToken).ConfigureAwait(false);
        }
        if (message[0] is not (CertificateType or CompressedCertificateType))
            throw new TlsException($"expected the server's Certificate, got handshake message {message[0]}", TlsAlert.UnexpectedMessage);
        var chain = ParseCertificate(message);
        transcript.AppendData(message);
        bool accepted = options.Hooks?.AcceptCertificate(chain[0]) ?? false;
        if (!accepted && options.Trust is { } trust)
        {
            if (trust.Refusal(chain) is { } refusal) throw new TlsException(refusal, TlsAlert.BadCertificate);
        }
        else if (!accepted && !options.Insecure) ServerCertificateValidator.ValidateChain(chain, options);

        var verify = await ExpectAsync(CertificateVerifyType, "CertificateVerify", null, cancellationToken).ConfigureAwait(false);
        var verifyReader = new TlsReader(verify.AsSpan(4), "CertificateVerify");
        ushort scheme = verifyReader.U16();
        var signature = verifyReader.Vector(2);
        verifyReader.ExpectEnd();
        if (!ServerCertificateValidator.VerifySignature(chain[0], scheme, transcript.GetCurrentHash(), signature, options.ServerKeys))
            throw new TlsException("the server's CertificateVerify signature does not match its certificate", TlsAlert.DecryptError);
        transcript.AppendData(verify);

        return certificateRequestContext;
    }

    /// <summary>What a ServerHello or HelloRetryRequest chose: the suite, the group, the server's share (none in a retry) and a retry's cookie.</summary>
    /// <param name="PskIdentity">The ticket the server took (pre_shared_key's selected_identity), or -1.</param>
    internal sealed record ServerHelloFields(bool Retry, Tls13CipherSuite Suite, ushort Group, byte[]? Share, byte[]? Cookie, int PskIdentity = -1);

    internal static ServerHelloFields ParseServerHello(byte[] message, ClientHello hello)
    {
        if (message[0] != 2) throw new TlsException($"expected ServerHello, got handshake message {message[0]}", TlsAlert.UnexpectedMessage);
        var reader = new TlsReader(message.AsSpan(4), "ServerHello");
        reader.U16(); // legacy_version
        var random = reader.Bytes(32);
        bool retry = random.SequenceEqual(HelloRetryRandom);
        var sessionEcho = reader.Vector(1);
        ushort suiteCode = reader.U16();
        if (reader.U8() != 0) throw new TlsException("the server chose a compression method", TlsAlert.IllegalParameter);
        ushort version = 0, group = 0;
        int pskIdentity = -1;
        byte[]? share = null, cookie = null;
        var extensions = new TlsReader(reader.Vector(2), "ServerHello extensions");
        reader.ExpectEnd();
        while (!extensions.IsEmpty)
        {
            ushort type = extensions.U16();
            var body = new TlsReader(extensions.Vector(2), "ServerHello extension");
            if (type == 0x002b) version = body.U16();
            else if (type == 0x0033)
            {
                group = body.U16();
                if (!retry) share = body.Vector(2).ToArray();
            }
            else if (type == 0x002c && retry) cookie = body.Vector(2).ToArray();
            else if (type == 0x0029 && !retry) pskIdentity = body.U16();
        }
        if (version != 0x0304)
            throw new TlsException("the server chose TLS 1.2 or older; Sluice's own TLS client speaks only TLS 1.3", TlsAlert.ProtocolVersion);
        if (!sessionEcho.SequenceEqual(hello.SessionId)) throw new TlsException("the server did not echo the session id", TlsAlert.IllegalParameter);
        if (!Tls13CipherSuite.TryGet(suiteCode, out var suite))
            throw new TlsException($"the server chose cipher suite {Tls13CipherSuite.Name(suiteCode)}, which was not offered for TLS 1.3", TlsAlert.IllegalParameter);
        if (retry)
        {
            if (group == 0) throw new TlsException("the server's HelloRetryRequest names no key share group", TlsAlert.IllegalParameter);
            if (group == hello.Group) throw new TlsException($"the server asked for a new {GroupName(group)} share, which the hello already carried", TlsAlert.IllegalParameter);
            return new ServerHelloFields(true, suite, group, null, cookie);
        }
        if (group != hello.Group || share is null)
            throw new TlsException($"the server's key share is group 0x{group:x4}, not the {GroupName(hello.Group)} share offered", TlsAlert.IllegalParameter);
        return new ServerHelloFields(false, suite, group, share, null, pskIdentity);
    }

    private static string GroupName(ushort group) => group switch
    {
        ClientHello.GroupX25519 => "X25519",
        ClientHello.GroupSecp256r1 => "P-256",
        ClientHello.GroupSecp384r1 => "P-384",
        _ => $"0x{group:x4}",
    };

    private string? ParseEncryptedExtensions(byte[] message) => ParseEncryptedExtensions(message, options.Alpn, options.ChromeAlpnWhenEmpty);

    /// <summary>The server's ALPN choice, which must be one offered (an empty list offered Chrome's two, or none).</summary>
    internal static string? ParseEncryptedExtensions(byte[] message, IReadOnlyList<string> offeredAlpn, bool chromeAlpnWhenEmpty = true)
    {
        var reader = new TlsReader(message.AsSpan(4), "EncryptedExtensions");
        var extensions = new TlsReader(reader.Vector(2), "EncryptedExtensions");
        reader.ExpectEnd();
        string? alpn = null;
        while (!extensions.IsEmpty)
        {
            ushort type = extensions.U16();
            var body = new TlsReader(extensions.Vector(2), "EncryptedExtensions extension");
            if (type != 0x0010) continue;
            var list = new TlsReader(body.Vector(2), "ALPN");
            alpn = Encoding.ASCII.GetString(list.Vector(1));
            list.ExpectEnd();
            IReadOnlyList<string> offered = offeredAlpn.Count > 0 ? offeredAlpn : chromeAlpnWhenEmpty ? ["h2", "http/1.1"] : [];
            if (!offered.Contains(alpn)) throw new TlsException($"the server chose ALPN \"{alpn}\", which was not offered", TlsAlert.IllegalParameter);
        }
        return alpn;
    }

    internal static List<byte[]> ParseCertificate(byte[] message)
    {
        ReadOnlySpan<byte> body = message.AsSpan(4);
        byte[]? inflated = null;
        if (message[0] == CompressedCertificateType)
        {
            // RFC 8879: algorithm, uncompressed_length, compressed bytes; only brotli (2) was offered.
            var compressed = new TlsReader(body, "CompressedCertificate");
            if (compressed.U16() != 2) throw new TlsException("the server compressed its certificate with an algorithm not offered", TlsAlert.BadCertificate);
            int length = compressed.U24();
            if (length > MaxUncompressedChain) throw new TlsException("the server's compressed certificate inflates past 1 MiB", TlsAlert.BadCertificate);
            var data = compressed.Vector(3);
            inflated = new byte[length];
            if (!BrotliDecoder.TryDecompress(data, inflated, out int written) || written != length)
                throw new TlsException("the server's compressed certificate does not inflate to its stated length", TlsAlert.BadCertificate);
            body = inflated;
        }
        var reader = new TlsReader(body, "Certificate");
        reader.Vector(1); // certificate_request_context: empty from a server
        var list = new TlsReader(reader.Vector(3), "Certificate list");
        reader.ExpectEnd();
        var chain = new List<byte[]>();
        while (!list.IsEmpty)
        {
            if (chain.Count == MaxCertificates) throw new TlsException($"the server sent more than {MaxCertificates} certificates", TlsAlert.BadCertificate);
            chain.Add(list.Vector(3).ToArray());
            list.Vector(2); // per-certificate extensions (OCSP, SCT): not used
        }
        if (chain.Count == 0) throw new TlsException("the server sent no certificate", TlsAlert.DecodeError);
        return chain;
    }

    private async Task<byte[]> ExpectAsync(byte type, string name, IncrementalHash? transcript, CancellationToken cancellationToken)
    {
        var message = await NextMessageAsync(cancellationToken).ConfigureAwait(false);
        if (message[0] != type) throw new TlsException($"expected the server's {name}, got handshake message {message[0]}", TlsAlert.UnexpectedMessage);
        transcript?.AppendData(message);
        return message;
    }

    private async Task<byte[]> NextMessageAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_messages.TryTake(out var message)) return message;
            var (type, content) = await records.ReadAsync(cancellationToken).ConfigureAwait(false);
            switch (type)
            {
                case 0:
                    throw new TlsException("the server closed the connection during the handshake", TlsAlert.HandshakeFailure);
                case Tls13RecordLayer.Handshake:
                    _messages.Append(content.Span);
                    break;
                case Tls13RecordLayer.ChangeCipherSpec when content.Length == 1 && content.Span[0] == 1:
                    break; // Appendix D.4: middlebox-compatibility CCS, ignored
                case Tls13RecordLayer.Alert:
                    throw Tls13ClientStream.AlertReceived(content.Span);
                default:
                    throw new TlsException($"a record of type {type} during the handshake", TlsAlert.UnexpectedMessage);
            }
        }
    }
}
