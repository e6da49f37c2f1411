using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux.Network;

/// <summary>
/// A NETLINK_ROUTE socket of the calling thread's network namespace that applies <see cref="NetworkOperation"/>s
/// in process, one request at a time, each with NLM_F_ACK and its ack checked: what <c>ip -batch</c> does,
/// without a process. A failure names the line as <c>ip -batch</c> would print it and the kernel's error.
/// </summary>
public sealed unsafe partial class RtnetlinkSocket : IDisposable
{
    private const int NETLINK_ROUTE = 0;
    private const int ENOENT = 2, ESRCH = 3, ENODEV = 19, EEXIST = 17;

    private readonly int _fd;
    private readonly byte[] _receive = new byte[64 * 1024];
    private uint _sequence;

    public RtnetlinkSocket()
    {
        _fd = Netlink.Socket(Netlink.AF_NETLINK, Netlink.SOCK_RAW | Netlink.SOCK_CLOEXEC, NETLINK_ROUTE);
        if (_fd < 0) throw new InvalidOperationException($"cannot open an rtnetlink socket: {Describe(Libc.LastError)}");
        _sequence = (uint)Environment.TickCount;
    }

    /// <summary>
    /// Applies the operations in order. <paramref name="force"/>: keep going after a failure and report none
    /// (<c>ip -force -batch</c>, for removing what may be gone); otherwise the first failure stops the batch and
    /// throws "ip -batch failed at "LINE": ERROR".
    /// </summary>
    public void Apply(IEnumerable<NetworkOperation> operations, bool force = false)
    {
        var failed = new HashSet<NetworkOperation>();
        foreach (var operation in operations)
        {
            // A forced batch repeats a delete to clear stacked duplicates; once it found nothing, so will the rest.
            if (force && failed.Contains(operation)) continue;
            int error = operation is RouteFlushOperation flush ? Flush(flush) : Request(operation);
            if (error == 0) continue;
            if (!force) throw new InvalidOperationException($"ip -batch failed at \"{operation.Render()}\": {Describe(error)}");
            failed.Add(operation);
        }
    }

    /// <summary>Sends one operation; 0 on ack, else the errno the kernel answered (or ENODEV for an unknown device).</summary>
    public int Request(NetworkOperation operation)
    {
        int missing = 0;
        var message = RtnetlinkRequest.Encode(operation, ++_sequence, name =>
        {
            int index = (int)Netlink.InterfaceIndex(name);
            if (index == 0) missing = ENODEV;
            return index;
        });
        return missing != 0 ? missing : Exchange(message);
    }

    /// <summary>Deletes every route of the table in one family; a route gone meanwhile (ESRCH/ENOENT) is fine.</summary>
    public int Flush(RouteFlushOperation flush)
    {
        int error = DumpRoutes(flush.V4, out var all);
        if (error != 0) return error;
        foreach (var body in all)
        {
            if (RtnetlinkRequest.RouteTable(body) != flush.Table) continue;
            int deleted = Exchange(RtnetlinkRequest.DeleteDumped(body, ++_sequence));
            if (deleted is not (0 or ESRCH or ENOENT)) return deleted;
        }
        return 0;
    }

    /// <summary>Every route of one family (RTM_NEWROUTE bodies: rtmsg and attributes); 0 or the errno.</summary>
    public int DumpRoutes(bool v4, out List<byte[]> routes)
    {
        routes = [];
        uint sequence = ++_sequence;
        int error = Send(RtnetlinkRequest.RouteDump(v4, sequence));
        if (error != 0) return error;
        while (true)
        {
            int received = Receive();
            if (received < 0) return -received;
            foreach (var message in NetlinkReader.Messages(_receive.AsSpan(0, received)))
            {
                if (message.Sequence != sequence) continue;
                if (message.Type == Netlink.NLMSG_DONE) return 0;
                if (message.Type == Netlink.NLMSG_ERROR) return message.Error;
                if (message.Type == RtnetlinkMessage.RTM_NEWROUTE) routes.Add(message.Body.ToArray());
            }
        }
    }

    /// <summary>Sends one request and waits for its ack: 0, or the positive errno.</summary>
    private int Exchange(byte[] message)
    {
        uint sequence = BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(8));
        int error = Send(message);
        if (error != 0) return error;
        while (true)
        {
            int received = Receive();
            if (received < 0) return -received;
            foreach (var answer in NetlinkReader.Messages(_receive.AsSpan(0, received)))
                if (answer.Sequence == sequence && answer.Type == Netlink.NLMSG_ERROR) return answer.Error;
        }
    }

    private int Send(byte[] message)
    {
        var address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        *(ushort*)address = Netlink.AF_NETLINK;
        fixed (byte* p = message)
            while (true)
            {
                nint sent = Netlink.SendTo(_fd, p, (nuint)message.Length, 0, address, 12);
                if (sent == message.Length) return 0;
                int errno = Libc.LastError;
                if (sent < 0 && errno == Libc.EINTR) continue;
                return sent < 0 ? errno : Libc.EIO;
            }
    }

    /// <summary>Bytes received, or -errno.</summary>
    private int Receive()
    {
        fixed (byte* p = _receive)
            while (true)
            {
                nint received = Netlink.Recv(_fd, p, (nuint)_receive.Length, 0);
                if (received >= 0) return (int)received;
                int errno = Libc.LastError;
                if (errno != Libc.EINTR) return -errno;
            }
    }

    /// <summary>The words ip prints for an errno ("File exists", "No such process").</summary>
    public static string Describe(int errno) => errno switch
    {
        ENODEV => "Cannot find device",
        EEXIST => "File exists",
        _ => Marshal.GetPInvokeErrorMessage(errno),
    };

    public void Dispose() => Libc.Close(_fd);

    /// <summary>The name of an interface of this namespace, or "#INDEX" when it has none (gone meanwhile).</summary>
    public static string NameOf(int index) =>
        Netlink.InterfaceName(index) ?? "#" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
