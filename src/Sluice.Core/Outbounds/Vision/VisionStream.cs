using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Outbounds.Vision;

/// <summary>
/// The client end of xtls-rprx-vision over Sluice's TLS 1.3 client (as Xray specifies it):
/// 1. writes: the request preamble (the VLESS header) goes with the first frame; data is padded in frames
///    (long padding during the inner TLS handshake) until a write of whole inner application-data records;
///    that one is sent as a direct frame when the inner TLS is 1.3, and from then on writes go raw on the
///    transport, outside the outer TLS (an end frame instead when it is not: writes stay in the outer TLS)
/// 2. reads: the response preamble is read first; frames are unpadded until the server's end or direct
///    frame; after a direct frame the outer TLS reader hands over what it buffered and reads go raw
/// A read before any write sends the preamble with an empty long-padded frame (server-first protocols).
/// </summary>
internal sealed class VisionStream : ConnectionStream
{
    private readonly Tls13ClientStream _tls;
    private readonly byte[] _userId;
    private readonly VisionTrafficState _traffic = new();
    private readonly VisionUnpadder _unpadder;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _readBuffer = new byte[VisionFrames.BufferSize];
    private readonly byte[] _unpadded = new byte[VisionFrames.BufferSize];
    private readonly Func<Stream, CancellationToken, ValueTask> _readPreamble;
    private byte[]? _writePreamble;
    private byte[]? _userIdOnce;
    private byte[] _frames = new byte[4 * VisionFrames.MaxFrame];
    private Memory<byte> _pendingRead;
    private bool _preambleRead, _readWithinPadding = true, _readDirect, _writePadding = true, _writeDirect;

    /// <summary>The VLESS request addons naming the flow: protobuf field 1 (Flow), "xtls-rprx-vision".</summary>
    public static readonly byte[] FlowAddon = [0x0a, 16, .. "xtls-rprx-vision"u8];

    public VisionStream(Tls13ClientStream tls, byte[] userId, byte[] writePreamble, Func<Stream, CancellationToken, ValueTask> readPreamble)
    {
        _tls = tls;
        _userId = userId;
        _userIdOnce = userId;
        _writePreamble = writePreamble;
        _readPreamble = readPreamble;
        _unpadder = new VisionUnpadder(userId);
    }

    /// <summary>True once writes go raw on the transport (the inner TLS 1.3 handshake is over).</summary>
    public bool WritesDirect => _writeDirect;

    /// <summary>True once reads come raw from the transport.</summary>
    public bool ReadsDirect => _readDirect;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_pendingRead.IsEmpty)
        {
            if (!_preambleRead)
            {
                if (_writePreamble is not null) await WriteFramesAsync(ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                await _readPreamble(_tls, cancellationToken).ConfigureAwait(false);
                _preambleRead = true;
            }
            if (_readDirect) return await _tls.Transport.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            int read = await _tls.ReadAsync(_readBuffer, cancellationToken).ConfigureAwait(false);
            if (read == 0) return 0;
            Memory<byte> data = _readBuffer.AsMemory(0, read);
            bool switchToDirect = false;
            if (_readWithinPadding || _traffic.PacketsLeftToFilter > 0)
            {
                data = _unpadded.AsMemory(0, _unpadder.Unpad(data.Span, _unpadded));
                _readWithinPadding = _unpadder.WithinPadding;
                switchToDirect = !_readWithinPadding && _unpadder.Command == VisionFrames.CommandDirect;
            }
            if (_traffic.PacketsLeftToFilter > 0) _traffic.Filter(data.Span);
            if (switchToDirect)
            {
                var (plaintext, raw) = _tls.DetachReader();
                var joined = new byte[data.Length + plaintext.Length + raw.Length];
                data.CopyTo(joined);
                plaintext.CopyTo(joined.AsMemory(data.Length));
                raw.CopyTo(joined.AsMemory(data.Length + plaintext.Length));
                data = joined;
                _readDirect = true;
            }
            _pendingRead = data;
        }
        int count = Math.Min(buffer.Length, _pendingRead.Length);
        _pendingRead[..count].CopyTo(buffer);
        _pendingRead = _pendingRead[count..];
        return count;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return;
        await WriteFramesAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask WriteFramesAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_writeDirect)
            {
                await _tls.Transport.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                return;
            }
            if (!_writePadding)
            {
                await _tls.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                return;
            }
            int used = FrameAll(data.Span, out bool switchToDirect);
            await _tls.WriteAsync(_frames.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
            if (switchToDirect)
            {
                _tls.RetireWriter();
                _writeDirect = true;
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Xray's VisionWriter step on one write: its data as 8 KiB buffers, reshaped, each padded into a frame.</summary>
    private int FrameAll(ReadOnlySpan<byte> data, out bool switchToDirect)
    {
        switchToDirect = false;
        var chunks = VisionChunks.Split(data);
        foreach (var (start, length) in chunks)
            if (_traffic.PacketsLeftToFilter > 0) _traffic.Filter(data.Slice(start, length));
        int needed = (_writePreamble?.Length ?? 0) + (chunks.Count + 1) * VisionFrames.MaxFrame;
        if (_frames.Length < needed) _frames = new byte[needed];
        int used = 0;
        if (_writePreamble is not null)
        {
            _writePreamble.CopyTo(_frames, 0);
            used = _writePreamble.Length;
            _writePreamble = null;
        }
        if (data.IsEmpty)
            return used + VisionFrames.Write([], VisionFrames.CommandContinue, TakeUserId(), true, _frames.AsSpan(used));

        bool complete = VisionFrames.IsWholeApplicationDataRecords(data);
        bool longPadding = _traffic.IsTls;
        for (int i = 0; i < chunks.Count; i++)
        {
            var chunk = data.Slice(chunks[i].Start, chunks[i].Length);
            bool last = i == chunks.Count - 1;
            byte finalCommand = _traffic.EnableDirectCopy ? VisionFrames.CommandDirect : VisionFrames.CommandEnd;
            if (_traffic.IsTls && chunk.Length >= 6 && chunk[0] == 0x17 && chunk[1] == 0x03 && chunk[2] == 0x03 && complete)
            {
                if (_traffic.EnableDirectCopy) switchToDirect = true;
                used += VisionFrames.Write(chunk, last ? finalCommand : VisionFrames.CommandContinue, TakeUserId(), true, _frames.AsSpan(used));
                _writePadding = false;
                longPadding = false;
                continue;
            }
            if (!_traffic.IsTls12OrAbove && _traffic.PacketsLeftToFilter <= 1)
            {
                // Not TLS (or too old to tell): padding ends with this frame; the rest of the write goes plain.
                _writePadding = false;
                used += VisionFrames.Write(chunk, VisionFrames.CommandEnd, TakeUserId(), longPadding, _frames.AsSpan(used));
                int rest = chunks[i].Start + chunks[i].Length;
                data[rest..].CopyTo(_frames.AsSpan(used));
                return used + data.Length - rest;
            }
            byte command = last && !_writePadding ? finalCommand : VisionFrames.CommandContinue;
            used += VisionFrames.Write(chunk, command, TakeUserId(), longPadding, _frames.AsSpan(used));
        }
        return used;
    }

    private ReadOnlySpan<byte> TakeUserId()
    {
        var id = _userIdOnce;
        _userIdOnce = null;
        return id;
    }

    public override void ShutdownWrite()
    {
        if (_writeDirect) StreamEnds.ShutdownWrite(_tls.Transport);
        else _tls.ShutdownWrite();
    }

    public override void Abort() => _tls.Abort();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _tls.Dispose();
        base.Dispose(disposing);
    }

}

/// <summary>
/// How Xray would hold one write: 8 KiB buffers, each of 8171 bytes or more split in two (at its last
/// application-data record start when that leaves both parts in bounds, else in the middle), so every part
/// fits a frame.
/// </summary>
internal static class VisionChunks
{
    public static List<(int Start, int Length)> Split(ReadOnlySpan<byte> data)
    {
        var chunks = new List<(int, int)>();
        for (int start = 0; start < data.Length; start += VisionFrames.BufferSize)
        {
            int length = Math.Min(VisionFrames.BufferSize, data.Length - start);
            if (length < VisionFrames.MaxContent)
            {
                chunks.Add((start, length));
                continue;
            }
            int index = data.Slice(start, length).LastIndexOf((ReadOnlySpan<byte>)[0x17, 0x03, 0x03]);
            if (index < 21 || index > VisionFrames.MaxContent) index = VisionFrames.BufferSize / 2;
            chunks.Add((start, index));
            chunks.Add((start + index, length - index));
        }
        return chunks;
    }
}
