namespace Sluice.Core.Outbounds.Tls;

/// <summary>The outbound's TLS over Sluice's own TLS 1.3 client: Reality always, and Vision (which needs the raw socket under TLS).</summary>
internal sealed partial class TlsClient
{
    /// <summary>
    /// Runs Sluice's own TLS 1.3 client over <paramref name="transport"/> (owned): Chrome-shaped hello, the same
    /// trust as the SslStream path (pinned CA, else system roots; insecure skips it), ALPN as configured;
    /// <paramref name="hooks"/> is Reality's, or null for plain TLS 1.3. The handshake is bounded by the caller's
    /// token (the dialer's connect_timeout). A failure is one <see cref="OutboundException"/> naming the outbound.
    /// </summary>
    /// <summary>For Vision: the own client, with Reality's hooks when tls.reality is enabled, else plain TLS 1.3.</summary>
    public ValueTask<Tls13ClientStream> ConnectForVisionAsync(Stream transport, CancellationToken cancellationToken) =>
        ConnectOwnAsync(transport, _options.Reality is { Enabled: true } reality ? new Reality.RealityHandshakeHooks(reality, TimeProvider.System) : null, cancellationToken);

    public async ValueTask<Tls13ClientStream> ConnectOwnAsync(Stream transport, ITls13HandshakeHooks? hooks, CancellationToken cancellationToken)
    {
        var options = new Tls13ClientOptions
        {
            Endpoint = _name,
            ServerName = _name,
            SendSni = !_options.DisableSni || hooks is not null, // Reality servers pick the target by SNI
            Alpn = _options.Alpn,
            TrustedRoots = _pinned,
            Insecure = _options.Insecure,
            Hooks = hooks,
            HandshakeTimeout = TimeSpan.FromMinutes(1),
        };
        try
        {
            return await Tls13ClientStream.ConnectAsync(transport, options, cancellationToken);
        }
        catch (TlsException e)
        {
            transport.Dispose();
            throw new OutboundException($"{_who}: {e.Message}", e);
        }
        catch
        {
            transport.Dispose();
            throw;
        }
    }
}
