using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Sluice.Core.Configuration;

namespace Sluice.Daemon;

/// <summary>
/// Who is on the other end of an API request, for reading the files it names with its rights (docs/api.md):
/// on the Unix socket the kernel says (SO_PEERCRED for the uid and primary gid, SO_PEERGROUPS for the
/// supplementary groups, both as of connect). An HTTP caller proved it holds the API secret, which only root
/// can read, so it is read for as root (null).
/// </summary>
internal static class PeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;
    private const int SoPeerGroups = 59;

    /// <summary>The Unix-socket caller, or null for root and for HTTP callers.</summary>
    public static FileCaller? Of(HttpContext context)
    {
        if (context.Features.Get<IConnectionSocketFeature>()?.Socket is not { AddressFamily: AddressFamily.Unix } socket) return null;
        Span<byte> cred = stackalloc byte[12];
        if (socket.GetRawSocketOption(SolSocket, SoPeerCred, cred) < 12) throw new InvalidOperationException("SO_PEERCRED answered short");
        uint uid = BinaryPrimitives.ReadUInt32LittleEndian(cred[4..]);
        uint gid = BinaryPrimitives.ReadUInt32LittleEndian(cred[8..]);
        if (uid == 0) return null;
        var groups = new List<uint> { gid };
        var list = new byte[4 * 1024];
        try
        {
            int n = socket.GetRawSocketOption(SolSocket, SoPeerGroups, list);
            for (int i = 0; i + 4 <= n; i += 4) groups.Add(BinaryPrimitives.ReadUInt32LittleEndian(list.AsSpan(i)));
        }
        catch (SocketException)
        {
            // More than 1024 groups, or a kernel before 4.13: the primary group only (stricter, never looser).
        }
        return new FileCaller(uid, groups);
    }
}
