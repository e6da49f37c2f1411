using System.Net.Security;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// An SslStream over a connection to a proxy server that passes half-close and abort down to the
/// connection (<see cref="IConnectionStream"/>): a FIN after the bytes written so far, or an RST.
/// </summary>
internal sealed class TlsStream : SslStream, IConnectionStream
{
    private readonly Stream _connection;

    public TlsStream(Stream connection, RemoteCertificateValidationCallback validate)
        : base(connection, leaveInnerStreamOpen: false, validate) => _connection = connection;

    public void ShutdownWrite() => StreamEnds.ShutdownWrite(_connection);

    public void Abort()
    {
        StreamEnds.Abort(_connection);
        Dispose();
    }
}
