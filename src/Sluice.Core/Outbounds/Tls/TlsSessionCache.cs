using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// Everything that decided a connection's trust and handshake: a ticket is offered only under an equal key, so a
/// ticket earned with one trust setting (a pinned CA, the system roots, insecure) is never offered under another.
/// </summary>
/// <param name="Server">The server as the outbound names it (type, tag, host:port).</param>
/// <param name="Alpn">The ALPN list offered, in order, joined by commas.</param>
/// <param name="Trust">"insecure", "system", or "pinned:" and the SHA-256 of the pinned certificates' DER.</param>
internal sealed record TlsSessionKey(string Server, string ServerName, bool SendSni, string Alpn, string Trust)
{
    public static TlsSessionKey Of(Tls13ClientOptions options)
    {
        IReadOnlyList<string> alpn = options.Alpn.Count > 0 ? options.Alpn : options.ChromeAlpnWhenEmpty ? ["h2", "http/1.1"] : [];
        string trust = options.Insecure ? "insecure" : options.TrustedRoots is { Count: > 0 } pinned ? "pinned:" + PinsHash(pinned) : "system";
        return new TlsSessionKey(options.SessionServer ?? options.Endpoint, options.ServerName, options.SendSni, string.Join(',', alpn), trust);
    }

    private static string PinsHash(System.Security.Cryptography.X509Certificates.X509Certificate2Collection pinned)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var certificate in pinned) hash.AppendData(certificate.RawData);
        return Convert.ToHexString(hash.GetCurrentHash());
    }
}

/// <summary>One NewSessionTicket turned into a resumption PSK (RFC 8446 §4.6.1), with the suite whose hash the PSK is for.</summary>
internal sealed record TlsSessionTicket(Tls13CipherSuite Suite, byte[] Identity, byte[] Psk, uint AgeAdd, DateTimeOffset Received, TimeSpan Lifetime)
{
    /// <summary>Servers MUST NOT give a lifetime over 7 days (§4.6.1): a longer one is held to that.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(7);

    public bool ExpiredAt(DateTimeOffset now) => now - Received >= Lifetime || now < Received;

    /// <summary>obfuscated_ticket_age = (milliseconds since the ticket arrived + ticket_age_add) mod 2^32 (§4.2.11.1).</summary>
    public uint ObfuscatedAge(DateTimeOffset now) => unchecked((uint)(long)(now - Received).TotalMilliseconds + AgeAdd);

    /// <summary>
    /// Reads a NewSessionTicket message (header included) under the connection's <paramref name="suite"/> and
    /// resumption master secret; null for a ticket of lifetime 0 (the server says: discard it).
    /// </summary>
    public static TlsSessionTicket? Parse(ReadOnlySpan<byte> message, Tls13CipherSuite suite, ReadOnlySpan<byte> resumptionMasterSecret, DateTimeOffset now)
    {
        var reader = new TlsReader(message[4..], "NewSessionTicket");
        uint lifetime = BinaryPrimitives.ReadUInt32BigEndian(reader.Bytes(4));
        uint ageAdd = BinaryPrimitives.ReadUInt32BigEndian(reader.Bytes(4));
        var nonce = reader.Vector(1);
        var identity = reader.Vector(2);
        reader.Vector(2); // extensions: early_data only, and Sluice sends no early data
        reader.ExpectEnd();
        if (identity.IsEmpty) throw new TlsException("the server sent a NewSessionTicket with an empty ticket", TlsAlert.DecodeError);
        if (lifetime == 0) return null;
        var psk = Tls13KeySchedule.ResumptionPsk(suite, resumptionMasterSecret, nonce);
        var held = TimeSpan.FromSeconds(Math.Min(lifetime, MaxLifetime.TotalSeconds));
        return new TlsSessionTicket(suite, identity.ToArray(), psk, ageAdd, now, held);
    }
}

/// <summary>
/// An outbound's TLS 1.3 session tickets, for resumption (RFC 8446 §2.2) as browsers do it: at most
/// <c>capacity</c> (<see cref="EngineLimits.TlsSessionTickets"/>; the oldest goes first), each taken once (Appendix
/// C.4: a client SHOULD NOT reuse a ticket, which would let a passive observer link the connections), none past its
/// lifetime (the clock is the injected <see cref="TimeProvider"/>). Thread-safe; a linear scan, the bound is small.
/// </summary>
internal sealed class TlsSessionCache(int capacity, TimeProvider time)
{
    private readonly List<(TlsSessionKey Key, TlsSessionTicket Ticket)> _tickets = []; // oldest first

    public TimeProvider Time => time;

    public int Count
    {
        get
        {
            lock (_tickets) return _tickets.Count;
        }
    }

    public void Add(TlsSessionKey key, TlsSessionTicket ticket)
    {
        if (capacity <= 0) return;
        lock (_tickets)
        {
            DropExpired(time.GetUtcNow());
            if (_tickets.Count >= capacity) _tickets.RemoveRange(0, _tickets.Count - capacity + 1);
            _tickets.Add((key, ticket));
        }
    }

    /// <summary>The newest live ticket for <paramref name="key"/>, removed from the cache (single use); null when there is none.</summary>
    public TlsSessionTicket? Take(TlsSessionKey key)
    {
        lock (_tickets)
        {
            DropExpired(time.GetUtcNow());
            for (int i = _tickets.Count - 1; i >= 0; i--)
            {
                if (_tickets[i].Key != key) continue;
                var ticket = _tickets[i].Ticket;
                _tickets.RemoveAt(i);
                return ticket;
            }
            return null;
        }
    }

    /// <summary>
    /// Drops every ticket for <paramref name="key"/>: a server answered a hello that offered one with an alert, so the
    /// next connections start with full handshakes rather than fail the same way.
    /// </summary>
    public void Forget(TlsSessionKey key)
    {
        lock (_tickets) _tickets.RemoveAll(entry => entry.Key == key);
    }

    private void DropExpired(DateTimeOffset now) => _tickets.RemoveAll(entry => entry.Ticket.ExpiredAt(now));
}

/// <summary>
/// Where a finished connection's NewSessionTickets go: its cache and key, its suite and resumption master secret. The
/// secret is wiped when the connection is disposed, and a ticket read at that moment is dropped, never derived from
/// the wiped secret (a wrong PSK would fail the next connection's binder).
/// </summary>
internal sealed class TlsTicketSink(TlsSessionCache cache, TlsSessionKey key, Tls13CipherSuite suite, byte[] resumptionMasterSecret)
{
    private readonly Lock _lock = new();
    private bool _forgotten;

    public void Accept(ReadOnlySpan<byte> message)
    {
        TlsSessionTicket? ticket;
        lock (_lock)
        {
            if (_forgotten) return;
            ticket = TlsSessionTicket.Parse(message, suite, resumptionMasterSecret, cache.Time.GetUtcNow());
        }
        if (ticket is not null) cache.Add(key, ticket);
    }

    public void Forget()
    {
        lock (_lock)
        {
            _forgotten = true;
            CryptographicOperations.ZeroMemory(resumptionMasterSecret);
        }
    }
}
