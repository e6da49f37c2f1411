using System.Buffers.Binary;
using System.Numerics;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// BLAKE3 (the BLAKE3 paper, §2) in its hash and derive_key modes, for Shadowsocks 2022's key
/// derivation: the session subkey is derive_key("shadowsocks 2022 session subkey", PSK || salt), an
/// identity header hides the first 16 bytes of hash(next PSK). Inputs here are tens of bytes, so this
/// is a plain one-shot implementation (portable, no SIMD), complete for any input length (the chunk
/// tree) and any output length (the root's extendable output). Work buffers are on the stack.
/// </summary>
internal static class Blake3
{
    private const int BlockLength = 64;
    private const int ChunkLength = 1024;
    private const uint ChunkStart = 1, ChunkEnd = 2, Parent = 4, Root = 8, DeriveKeyContext = 32, DeriveKeyMaterial = 64;
    private const int MaxDepth = 54; // 2^64 bytes of input at most

    private static ReadOnlySpan<uint> Iv => [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19];

    private static ReadOnlySpan<byte> Permutation => [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

    /// <summary>hash(input), <paramref name="output"/>.Length bytes of it.</summary>
    public static void Hash(ReadOnlySpan<byte> input, Span<byte> output) => Run(Iv, 0, input, output);

    /// <summary>derive_key(context, key material): a context key from the context string, then the material hashed under it.</summary>
    public static void DeriveKey(string context, ReadOnlySpan<byte> material, Span<byte> output)
    {
        Span<byte> contextBytes = stackalloc byte[System.Text.Encoding.UTF8.GetByteCount(context)];
        System.Text.Encoding.UTF8.GetBytes(context, contextBytes);
        Span<byte> contextKey = stackalloc byte[32];
        Run(Iv, DeriveKeyContext, contextBytes, contextKey);
        Span<uint> key = stackalloc uint[8];
        for (int i = 0; i < 8; i++) key[i] = BinaryPrimitives.ReadUInt32LittleEndian(contextKey[(4 * i)..]);
        Run(key, DeriveKeyMaterial, material, output);
    }

    private static void Run(ReadOnlySpan<uint> key, uint flags, ReadOnlySpan<byte> input, Span<byte> output)
    {
        Span<uint> stack = stackalloc uint[MaxDepth * 8];
        int depth = 0;
        ulong chunk = 0;
        Span<uint> cv = stackalloc uint[8];
        Span<uint> block = stackalloc uint[16];
        // Every chunk but the last becomes a chaining value on the stack, merged pairwise as the tree fills.
        while (input.Length > ChunkLength)
        {
            ChunkOutput(key, flags, input[..ChunkLength], chunk, cv, block, out uint blockLength, out uint blockFlags);
            Compress(cv, block, chunk, blockLength, blockFlags, cv);
            input = input[ChunkLength..];
            chunk++;
            for (ulong total = chunk; (total & 1) == 0; total >>= 1)
            {
                depth--;
                ParentChainingValue(stack.Slice(depth * 8, 8), cv, key, flags, cv);
            }
            cv.CopyTo(stack.Slice(depth * 8, 8));
            depth++;
        }
        // The last chunk's output node, then the parents up the right edge of the tree: the last one is the root.
        Span<uint> nodeCv = stackalloc uint[8];
        Span<uint> nodeBlock = stackalloc uint[16];
        ChunkOutput(key, flags, input, chunk, nodeCv, nodeBlock, out uint nodeLength, out uint nodeFlags);
        ulong nodeCounter = chunk;
        Span<uint> right = cv;
        while (depth > 0)
        {
            depth--;
            Compress(nodeCv, nodeBlock, nodeCounter, nodeLength, nodeFlags, right);
            stack.Slice(depth * 8, 8).CopyTo(nodeBlock);
            right.CopyTo(nodeBlock[8..]);
            key.CopyTo(nodeCv);
            nodeCounter = 0;
            nodeLength = BlockLength;
            nodeFlags = Parent | flags;
        }
        Span<uint> words = stackalloc uint[16];
        Span<byte> le = stackalloc byte[4];
        for (ulong outBlock = 0; !output.IsEmpty; outBlock++)
        {
            CompressFull(nodeCv, nodeBlock, outBlock, nodeLength, nodeFlags | Root, words);
            for (int i = 0; i < 16 && !output.IsEmpty; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(le, words[i]);
                int n = Math.Min(4, output.Length);
                le[..n].CopyTo(output);
                output = output[n..];
            }
        }
    }

    /// <summary>
    /// Compresses all blocks of one chunk but the last and leaves the last as an output node
    /// (chaining value in, block, length, flags), since whether it is the root is not known yet.
    /// </summary>
    private static void ChunkOutput(ReadOnlySpan<uint> key, uint flags, ReadOnlySpan<byte> chunkBytes, ulong counter,
        Span<uint> cv, Span<uint> block, out uint blockLength, out uint blockFlags)
    {
        key.CopyTo(cv);
        uint start = ChunkStart;
        while (chunkBytes.Length > BlockLength)
        {
            LoadBlock(chunkBytes[..BlockLength], block);
            Compress(cv, block, counter, BlockLength, flags | start, cv);
            chunkBytes = chunkBytes[BlockLength..];
            start = 0;
        }
        LoadBlock(chunkBytes, block);
        blockLength = (uint)chunkBytes.Length;
        blockFlags = flags | start | ChunkEnd;
    }

    private static void LoadBlock(ReadOnlySpan<byte> bytes, Span<uint> block)
    {
        Span<byte> padded = stackalloc byte[BlockLength];
        padded.Clear();
        bytes.CopyTo(padded);
        for (int i = 0; i < 16; i++) block[i] = BinaryPrimitives.ReadUInt32LittleEndian(padded[(4 * i)..]);
    }

    private static void ParentChainingValue(ReadOnlySpan<uint> left, ReadOnlySpan<uint> right, ReadOnlySpan<uint> key, uint flags, Span<uint> cv)
    {
        Span<uint> block = stackalloc uint[16];
        left.CopyTo(block);
        right.CopyTo(block[8..]);
        Compress(key, block, 0, BlockLength, Parent | flags, cv);
    }

    /// <summary>The chaining value: the first 8 words of the compression output.</summary>
    private static void Compress(ReadOnlySpan<uint> cv, ReadOnlySpan<uint> block, ulong counter, uint blockLength, uint flags, Span<uint> output)
    {
        Span<uint> full = stackalloc uint[16];
        CompressFull(cv, block, counter, blockLength, flags, full);
        full[..8].CopyTo(output);
    }

    private static void CompressFull(ReadOnlySpan<uint> cv, ReadOnlySpan<uint> block, ulong counter, uint blockLength, uint flags, Span<uint> output)
    {
        Span<uint> s = stackalloc uint[16];
        Span<uint> m = stackalloc uint[16];
        Span<uint> permuted = stackalloc uint[16];
        cv[..8].CopyTo(s);
        Iv[..4].CopyTo(s[8..]);
        s[12] = (uint)counter;
        s[13] = (uint)(counter >> 32);
        s[14] = blockLength;
        s[15] = flags;
        block.CopyTo(m);
        for (int round = 0; round < 7; round++)
        {
            G(s, 0, 4, 8, 12, m[0], m[1]);
            G(s, 1, 5, 9, 13, m[2], m[3]);
            G(s, 2, 6, 10, 14, m[4], m[5]);
            G(s, 3, 7, 11, 15, m[6], m[7]);
            G(s, 0, 5, 10, 15, m[8], m[9]);
            G(s, 1, 6, 11, 12, m[10], m[11]);
            G(s, 2, 7, 8, 13, m[12], m[13]);
            G(s, 3, 4, 9, 14, m[14], m[15]);
            for (int i = 0; i < 16; i++) permuted[i] = m[Permutation[i]];
            permuted.CopyTo(m);
        }
        for (int i = 0; i < 8; i++)
        {
            output[i] = s[i] ^ s[i + 8];
            output[i + 8] = s[i + 8] ^ cv[i];
        }
    }

    private static void G(Span<uint> s, int a, int b, int c, int d, uint x, uint y)
    {
        s[a] = s[a] + s[b] + x;
        s[d] = BitOperations.RotateRight(s[d] ^ s[a], 16);
        s[c] += s[d];
        s[b] = BitOperations.RotateRight(s[b] ^ s[c], 12);
        s[a] = s[a] + s[b] + y;
        s[d] = BitOperations.RotateRight(s[d] ^ s[a], 8);
        s[c] += s[d];
        s[b] = BitOperations.RotateRight(s[b] ^ s[c], 7);
    }
}
