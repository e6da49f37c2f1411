#!/usr/bin/env bash
# Builds the NativeAOT `sluice` into artifacts/native/linux-x64/sluice (one self-contained executable, no
# .NET runtime needed) and libsluice.so beside it (the engine as a C library over a host's TUN fd,
# include/sluice.h, docs/embedding.md; the embedding e2e test links its C host against it). The end-to-end tests pick it up from there when it is newer than the JIT build
# (see src/Sluice.Cli/Testbed/SluiceBinary.cs), or from $SLUICE_BINARY. Needs clang and zlib1g-dev.
# Usage: scripts/build-native.sh [RID]   (default linux-x64)
set -euo pipefail
cd "$(dirname "$0")/.."
rid=${1:-linux-x64}
out=artifacts/native/$rid
start=$(date +%s)
dotnet publish src/Sluice.Cli -c Release -r "$rid" -p:PublishAot=true -o "$out" -nologo -v q
dotnet publish src/Sluice.Native -c Release -r "$rid" -p:PublishAot=true -p:NativeLib=Shared -o "$out" -nologo -v q
# The debug symbols stay next to it (sluice.dbg) for stack traces; the executable itself is stripped.
echo "built $out/sluice ($(du -h "$out/sluice" | cut -f1)) and $out/libsluice.so ($(du -h "$out/libsluice.so" | cut -f1)) in $(( $(date +%s) - start )) s"
