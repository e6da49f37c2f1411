using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux.Native;

/// <summary>
/// glibc's heap: what native code (OpenSSL's per-flow cipher contexts) freed stays in the allocator's free lists and
/// resident; <c>malloc_trim(0)</c> gives the free pages of every arena back to the OS. The engine calls it after a
/// burst of flows has ended (Core's MemoryTrimmer). Not every libc has it (musl): then it does nothing.
/// </summary>
public static partial class NativeHeap
{
    private static volatile bool s_missing;

    /// <summary>Returns the heap's free pages to the OS; a no-op where libc has no malloc_trim.</summary>
    public static void Trim()
    {
        if (s_missing) return;
        try
        {
            _ = MallocTrim(0);
        }
        catch (EntryPointNotFoundException)
        {
            s_missing = true;
        }
    }

    /// <summary>The engine's native trim: the heap's free pages, then the executable's clean mapped pages (<see cref="FilePages"/>).</summary>
    public static void TrimAndReleaseFilePages()
    {
        Trim();
        _ = FilePages.ReleaseExecutable();
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
