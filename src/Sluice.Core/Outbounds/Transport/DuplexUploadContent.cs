using System.Net;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// A request body written while the response is read (as Grpc.Net.Client's streaming content): the handler hands over
/// its request stream (<see cref="Upload"/>) right after the request's headers went out, and the body ends (HTTP/2
/// END_STREAM) when <see cref="Complete"/> is called.
/// </summary>
internal sealed class DuplexUploadContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The request stream, once the request is under way; faulted when it never got there.</summary>
    public Task<Stream> Upload => _stream.Task;

    public void Complete() => _done.TrySetResult();

    public void Fail(Exception e)
    {
        _stream.TrySetException(e);
        _done.TrySetResult();
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, default);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        _stream.TrySetResult(stream);
        return _done.Task;
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _done.TrySetResult();
        base.Dispose(disposing);
    }
}
