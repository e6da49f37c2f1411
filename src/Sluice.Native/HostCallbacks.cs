using System.Runtime.InteropServices;
using System.Text;
using Sluice.Core.Flows;
using Sluice.Packets;

namespace Sluice.Native;

/// <summary><c>sluice_host</c> of include/sluice.h, field for field.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct HostCallbackTable
{
    public delegate* unmanaged<nint, byte*, void> OnState;
    public delegate* unmanaged<nint, int, int> Protect;
    public delegate* unmanaged<nint, int, byte*, byte*, OwnerRecord*, int> FindOwner;
    public delegate* unmanaged<nint, int, byte*, void> Log;
}

/// <summary><c>sluice_owner</c> of include/sluice.h.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct OwnerRecord
{
    public const int NameSize = 64;
    public const int PathSize = 256;

    public uint Uid;
    public int Pid;
    public fixed byte Name[NameSize];
    public fixed byte Path[PathSize];
}

/// <summary>
/// The host's callbacks with their <c>user</c> pointer, as the engine calls them. Each call is fenced:
/// a managed failure around a callback (a bad string, a missing callback) is logged and answered with the
/// safe default, never thrown into an engine thread. A host callback that unwinds natively cannot be
/// caught here; the header says it must not.
/// </summary>
internal sealed unsafe class HostCallbacks(HostCallbackTable table, nint user)
{
    public bool CanProtect => table.Protect != null;

    public bool CanFindOwner => table.FindOwner != null;

    public bool CanLog => table.Log != null;

    /// <summary>Set by the engine's composition: where failures of the callbacks themselves are reported.</summary>
    public Action<string>? Trouble { get; set; }

    public void State(string json)
    {
        if (table.OnState == null) return;
        try
        {
            fixed (byte* text = Utf8(json)) table.OnState(user, text);
        }
        catch (Exception e)
        {
            Trouble?.Invoke($"on_state: {e.Message}");
        }
    }

    /// <summary>True once the host says the socket bypasses the TUN.</summary>
    public bool Protect(int fd)
    {
        try
        {
            return table.Protect(user, fd) != 0;
        }
        catch (Exception e)
        {
            Trouble?.Invoke($"protect({fd}): {e.Message}");
            return false;
        }
    }

    public ProcessInfo? FindOwner(FlowKey flow)
    {
        try
        {
            OwnerRecord owner = default;
            int found;
            fixed (byte* src = Utf8(Endpoint(flow.Source, flow.SourcePort)))
            fixed (byte* dst = Utf8(Endpoint(flow.Destination, flow.DestinationPort)))
                found = table.FindOwner(user, flow.Protocol, src, dst, &owner);
            if (found == 0) return null;
            string? name = Text(owner.Name, OwnerRecord.NameSize);
            string? path = Text(owner.Path, OwnerRecord.PathSize);
            // process_name rules match the name; a host that only knows the path gets the name from it.
            name ??= path is null ? null : System.IO.Path.GetFileName(path);
            return new ProcessInfo(owner.Uid, owner.Pid, name, path);
        }
        catch (Exception e)
        {
            Trouble?.Invoke($"find_owner({flow}): {e.Message}");
            return null;
        }
    }

    public void Log(int level, string line)
    {
        if (table.Log == null) return;
        try
        {
            fixed (byte* text = Utf8(line)) table.Log(user, level, text);
        }
        catch
        {
            // Nowhere left to report a failing log callback.
        }
    }

    private static string Endpoint(NetAddress address, ushort port) => address.IsV4 ? $"{address}:{port}" : $"[{address}]:{port}";

    private static byte[] Utf8(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    private static string? Text(byte* field, int size)
    {
        var span = new ReadOnlySpan<byte>(field, size);
        int end = span.IndexOf((byte)0);
        if (end < 0) end = size;
        return end == 0 ? null : Encoding.UTF8.GetString(span[..end]);
    }
}
