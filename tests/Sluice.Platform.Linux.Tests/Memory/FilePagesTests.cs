using System.Runtime.InteropServices;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux.Tests.Memory;

/// <summary>
/// The engine's trim unmaps the executable's clean file pages: a read-only private mapping of a file gives its resident
/// pages back and reads the same bytes afterwards; a mapping that was written and then made read-only (a relocated
/// section) keeps its pages and its written bytes. Real mappings of a temp file, measured in /proc/self/smaps.
/// </summary>
public sealed partial class FilePagesTests : IDisposable
{
    private const int Size = 1 << 20;
    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2;
    private readonly string _path = Path.Combine(Directory.CreateTempSubdirectory("sluice-filepages-").FullName, "image.bin");
    private readonly byte[] _content = new byte[Size];

    public FilePagesTests()
    {
        new Random(19).NextBytes(_content);
        File.WriteAllBytes(_path, _content);
    }

    [Fact]
    public void AReadOnlyMapping_GivesItsPagesBack_AndReadsTheSameBytesAfterwards()
    {
        nint address = Map(ProtRead);
        try
        {
            Assert.Equal(_content, Read(address)); // every page touched: resident
            long before = ResidentBytes(address);
            Assert.True(before >= Size, $"resident before: {before}");

            long released = FilePages.Release(_path);

            Assert.True(released >= Size, $"released: {released}");
            Assert.Equal(0, ResidentBytes(address));
            Assert.Equal(_content, Read(address));
        }
        finally
        {
            Unmap(address);
        }
    }

    [Fact]
    public void AMappingWrittenThenMadeReadOnly_KeepsItsPagesAndItsWrites()
    {
        nint address = Map(ProtRead | ProtWrite);
        try
        {
            Marshal.WriteByte(address, 4096, (byte)(_content[4096] ^ 0xFF)); // as a loader relocates, then protects
            Assert.Equal(0, Mprotect(address, Size, ProtRead));

            FilePages.Release(_path);

            Assert.Equal((byte)(_content[4096] ^ 0xFF), Marshal.ReadByte(address, 4096));
            Assert.True(ResidentBytes(address) > 0);
        }
        finally
        {
            Unmap(address);
        }
    }

    [Fact]
    public void AnotherFile_IsNotTouched()
    {
        nint address = Map(ProtRead);
        try
        {
            _ = Read(address);
            FilePages.Release(_path + ".other");
            Assert.True(ResidentBytes(address) >= Size);
        }
        finally
        {
            Unmap(address);
        }
    }

    private nint Map(int protection)
    {
        using var file = File.OpenHandle(_path);
        nint address = Mmap(0, Size, protection, MapPrivate, (int)file.DangerousGetHandle(), 0);
        Assert.NotEqual(-1, address);
        return address;
    }

    private static byte[] Read(nint address)
    {
        var copy = new byte[Size];
        Marshal.Copy(address, copy, 0, Size);
        return copy;
    }

    private static void Unmap(nint address) => _ = Munmap(address, Size);

    // The Rss line of the mapping that starts at the address.
    private static long ResidentBytes(nint address)
    {
        string start = ((ulong)address).ToString("x");
        bool inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-'))
            {
                inside = line.StartsWith(start + "-", StringComparison.Ordinal);
                continue;
            }
            if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim()) * 1024;
        }
        throw new InvalidOperationException($"no mapping at {start}");
    }

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_path)!, recursive: true);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Mprotect(nint address, nuint length, int protection);
}
