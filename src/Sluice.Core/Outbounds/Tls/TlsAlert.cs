namespace Sluice.Core.Outbounds.Tls;

/// <summary>TLS alert descriptions (RFC 8446 §6) and their names as a person reads them in a log line.</summary>
internal static class TlsAlert
{
    public const byte CloseNotify = 0;
    public const byte UnexpectedMessage = 10;
    public const byte BadRecordMac = 20;
    public const byte RecordOverflow = 22;
    public const byte HandshakeFailure = 40;
    public const byte BadCertificate = 42;
    public const byte UnsupportedCertificate = 43;
    public const byte CertificateExpired = 45;
    public const byte IllegalParameter = 47;
    public const byte UnknownCa = 48;
    public const byte DecodeError = 50;
    public const byte DecryptError = 51;
    public const byte ProtocolVersion = 70;
    public const byte InternalError = 80;
    public const byte UserCanceled = 90;
    public const byte MissingExtension = 109;
    public const byte UnsupportedExtension = 110;
    public const byte UnrecognizedName = 112;
    public const byte NoApplicationProtocol = 120;

    public static string Name(byte description) => description switch
    {
        CloseNotify => "close_notify",
        UnexpectedMessage => "unexpected_message",
        BadRecordMac => "bad_record_mac",
        RecordOverflow => "record_overflow",
        HandshakeFailure => "handshake_failure",
        BadCertificate => "bad_certificate",
        UnsupportedCertificate => "unsupported_certificate",
        44 => "certificate_revoked",
        CertificateExpired => "certificate_expired",
        46 => "certificate_unknown",
        IllegalParameter => "illegal_parameter",
        UnknownCa => "unknown_ca",
        49 => "access_denied",
        DecodeError => "decode_error",
        DecryptError => "decrypt_error",
        ProtocolVersion => "protocol_version",
        71 => "insufficient_security",
        InternalError => "internal_error",
        86 => "inappropriate_fallback",
        UserCanceled => "user_canceled",
        MissingExtension => "missing_extension",
        UnsupportedExtension => "unsupported_extension",
        UnrecognizedName => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        NoApplicationProtocol => "no_application_protocol",
        _ => $"alert {description}",
    };
}

/// <summary>
/// A TLS connection failed. <see cref="Alert"/> is the alert Sluice sends to the peer (or received from it),
/// so the caller can tell the peer why before closing.
/// </summary>
internal sealed class TlsException(string message, byte alert = TlsAlert.InternalError, Exception? inner = null, bool fromPeer = false)
    : Exception(message, inner)
{
    public byte Alert { get; } = alert;

    /// <summary>The peer sent the alert; nothing is sent back.</summary>
    public bool FromPeer { get; } = fromPeer;

    /// <summary>A malformed message from the peer: what was wrong, as the decode_error alert says.</summary>
    public static TlsException Decode(string what) => new($"malformed {what}", TlsAlert.DecodeError);
}
