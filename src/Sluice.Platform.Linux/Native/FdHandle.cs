using System.Runtime.InteropServices;

namespace Sluice.Platform.Linux.Native;

/// <summary>
/// Owns a file descriptor. Readers and writers hold a reference (DangerousAddRef) around each
/// syscall, so Dispose on another thread never closes the fd under a running read(2) and the
/// number cannot be reused by another open while a call is still using it.
/// </summary>
internal sealed class FdHandle : SafeHandle
{
    public FdHandle(int fd) : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    public override bool IsInvalid => handle.ToInt64() < 0;

    public int Fd => (int)handle.ToInt64();

    protected override bool ReleaseHandle() => Libc.Close((int)handle.ToInt64()) == 0;
}
