using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux.Native;

/// <summary>
/// libnftables (Debian libnftables1), the library the <c>nft</c> program is a thin shell around, loaded at run time:
/// a script given to <c>nft_run_cmd_from_buffer</c> is parsed and committed as one transaction, exactly as
/// <c>nft -f</c> does, without starting a process. Output and errors are buffered and returned as nft would print
/// them. One context per call, one call at a time (the library keeps some global state). When the library cannot
/// be loaded, <see cref="UnavailableReason"/> says why and callers run the <c>nft</c> program instead.
/// </summary>
internal static unsafe class Nftables
{
    /// <summary>NFT_CTX_OUTPUT_STATELESS (<c>nft -s</c>): no counters or other state in listings.</summary>
    public const uint OutputStateless = 1u << 2;

    /// <summary>NFT_CTX_OUTPUT_JSON (<c>nft -j</c>).</summary>
    public const uint OutputJson = 1u << 4;

    private static readonly string[] Names = ["libnftables.so.1", "/usr/lib/x86_64-linux-gnu/libnftables.so.1", "/usr/lib/aarch64-linux-gnu/libnftables.so.1"];
    private static readonly Lock Gate = new();
    private static readonly Api? Loaded = Load(out UnavailableReasonValue);
    private static readonly string? UnavailableReasonValue;

    /// <summary>Why the library is not used (null when it is).</summary>
    public static string? UnavailableReason => Loaded is null ? UnavailableReasonValue : null;

    public static bool Available => Loaded is not null;

    /// <summary>
    /// Open descriptors above which the library is not used. libnftables waits for the kernel's answer with select(),
    /// whose fd_set holds descriptors below 1024 only: glibc aborts the whole process (FD_SETSIZE check) when the
    /// context's netlink socket is 1024 or above. That socket takes the lowest free descriptor, which is at most the
    /// number open; a busy engine (two sockets per relayed connection) passes 1024 easily, and then the nft program
    /// runs instead (a child starts with only its standard streams).
    /// </summary>
    internal const int MaxOpenDescriptors = 960;

    /// <summary>
    /// Runs <paramref name="commands"/> (a script or one command) as <c>nft [-s|-j] -f</c> would; null without the
    /// library, or when too many descriptors are open for it (<see cref="MaxOpenDescriptors"/>): run the program then.
    /// </summary>
    public static CommandResult? Run(string commands, uint outputFlags = 0)
    {
        if (Loaded is not { } api || OpenDescriptors() > MaxOpenDescriptors) return null;
        lock (Gate)
        {
            nint ctx = api.New(0);
            if (ctx == 0) return new CommandResult(1, "", "libnftables: nft_ctx_new failed");
            try
            {
                if (outputFlags != 0) api.SetOutputFlags(ctx, outputFlags);
                api.BufferOutput(ctx);
                api.BufferError(ctx);
                int status;
                var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(commands) + 1];
                System.Text.Encoding.UTF8.GetBytes(commands, bytes);
                fixed (byte* p = bytes) status = api.RunFromBuffer(ctx, p);
                string stdout = Marshal.PtrToStringUTF8(api.GetOutput(ctx)) ?? "";
                string stderr = Marshal.PtrToStringUTF8(api.GetError(ctx)) ?? "";
                return new CommandResult(status == 0 ? 0 : 1, stdout, stderr);
            }
            finally
            {
                api.Free(ctx);
            }
        }
    }

    private static int OpenDescriptors()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (IOException)
        {
            return int.MaxValue; // cannot tell: the program is always safe
        }
    }

    private static Api? Load(out string? reason)
    {
        reason = null;
        nint handle = 0;
        foreach (string name in Names)
            if (NativeLibrary.TryLoad(name, out handle)) break;
        if (handle == 0)
        {
            reason = "libnftables.so.1 is not installed (Debian: apt-get install libnftables1); nftables changes run the nft program";
            return null;
        }
        try
        {
            return new Api
            {
                New = (delegate* unmanaged<uint, nint>)Export(handle, "nft_ctx_new"),
                Free = (delegate* unmanaged<nint, void>)Export(handle, "nft_ctx_free"),
                BufferOutput = (delegate* unmanaged<nint, int>)Export(handle, "nft_ctx_buffer_output"),
                BufferError = (delegate* unmanaged<nint, int>)Export(handle, "nft_ctx_buffer_error"),
                GetOutput = (delegate* unmanaged<nint, nint>)Export(handle, "nft_ctx_get_output_buffer"),
                GetError = (delegate* unmanaged<nint, nint>)Export(handle, "nft_ctx_get_error_buffer"),
                SetOutputFlags = (delegate* unmanaged<nint, uint, void>)Export(handle, "nft_ctx_output_set_flags"),
                RunFromBuffer = (delegate* unmanaged<nint, byte*, int>)Export(handle, "nft_run_cmd_from_buffer"),
            };
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"libnftables.so.1 lacks {e.Message}; nftables changes run the nft program";
            return null;
        }
    }

    private static nint Export(nint handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out nint address) ? address : throw new EntryPointNotFoundException(name);

    private sealed class Api
    {
        public required delegate* unmanaged<uint, nint> New;
        public required delegate* unmanaged<nint, void> Free;
        public required delegate* unmanaged<nint, int> BufferOutput;
        public required delegate* unmanaged<nint, int> BufferError;
        public required delegate* unmanaged<nint, nint> GetOutput;
        public required delegate* unmanaged<nint, nint> GetError;
        public required delegate* unmanaged<nint, uint, void> SetOutputFlags;
        public required delegate* unmanaged<nint, byte*, int> RunFromBuffer;
    }
}
