namespace Sluice.Core.Outbounds.Tls;

/// <summary>The outbound's TLS over Sluice's own TLS 1.3 client: Reality, utls, and Vision (which needs the raw socket under TLS).</summary>
internal sealed partial class TlsClient
{
    /// <summary>For Vision: the own client, with Reality's hooks when tls.reality is enabled, else plain TLS 1.3.</summary>
    public ValueTask<Tls13ClientStream> ConnectForVisionAsync(Stream transport, CancellationToken cancellationToken) =>
        ConnectOwnAsync(transport, _options.Reality is { Enabled: true } reality ? new Reality.RealityHandshakeHooks(reality, TimeProvider.System) : null,
            cancellationToken, forVision: true);

    /// <summary>
    /// Runs Sluice's own TLS 1.3 client over <paramref name="transport"/> (owned): Chrome-shaped hello, the same
    /// trust as the SslStream path (pinned CA, else system roots; insecure skips it), ALPN as configured;
    /// <paramref name="hooks"/> is Reality's, or null for plain TLS 1.3, which resumes with the outbound's session tickets
    /// (<see cref="TlsSessionCache"/>; Reality never does). The handshake is bounded by the caller's
    /// token (the dialer's connect_timeout). A failure is one <see cref="OutboundException"/> naming the outbound;
    /// a server that picks TLS 1.2 gets one that says how to reach it.
    /// </summary>
    /// <param name="asDefault">
    /// The outbound's default client (no utls): exactly the configured ALPN, and a TLS 1.2 answer (when the versions
    /// allow 1.2) switches the outbound to SslStream and throws <see cref="TlsVersionFallback"/>.
    /// </param>
    public async ValueTask<Tls13ClientStream> ConnectOwnAsync(Stream transport, ITls13HandshakeHooks? hooks, CancellationToken cancellationToken,
        bool forUtls = false, bool asDefault = false, bool forVision = false)
    {
        var options = new Tls13ClientOptions
        {
            Endpoint = _name,
            ServerName = _name,
            SendSni = !_options.DisableSni || hooks is not null, // Reality servers pick the target by SNI
            Alpn = hooks is null && !asDefault ? _ownAlpn : _defaultAlpn,
            ChromeAlpnWhenEmpty = !asDefault,
            TrustedRoots = _pinned,
            Insecure = _options.Insecure,
            Trust = _trust,
            X25519 = _x25519,
            ServerKeys = _serverKeys,
            Hooks = hooks,
            Sessions = hooks is null ? _sessions : null, // Reality: never resumed
            SessionServer = _who,
            HandshakeTimeout = TimeSpan.FromMinutes(1),
            DeferFinished = !forVision,
        };
        try
        {
            return await Tls13ClientStream.ConnectAsync(transport, options, cancellationToken);
        }
        catch (TlsException e) when (e.Alert == TlsAlert.ProtocolVersion && asDefault && (_options.Protocols & ~System.Security.Authentication.SslProtocols.Tls13) != 0)
        {
            transport.Dispose();
            if (Interlocked.Exchange(ref _serverSpeaksTls12, 1) == 0) LogTls12Server(_logger, _who);
            throw new TlsVersionFallback(e.Message, e);
        }
        catch (TlsException e) when (e.Alert == TlsAlert.ProtocolVersion && forUtls)
        {
            transport.Dispose();
            throw new OutboundException($"{_who}: {e.Message}. tls.utls makes this outbound use that Chrome-shaped TLS 1.3 client: "
                + "remove \"utls\" from its tls object to reach a TLS 1.2 server, or enable TLS 1.3 on the server", e);
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
