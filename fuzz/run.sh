#!/usr/bin/env bash
# A fuzz campaign: fuzz/run.sh TARGET [MINUTES] (default 10). Coverage-guided AFL++ (Debian's afl++)
# over the SharpFuzz-instrumented Sluice assemblies, seeded from fuzz/corpus/TARGET (plus the seeds only
# the real encoder can make, e.g. WireGuard's). Crashes and hangs are copied to fuzz/regressions/TARGET/,
# where Core.Tests' FuzzCorpusTests replays them in every test run. Prints executions and findings.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh TARGET [MINUTES]}
minutes=${2:-10}
command -v afl-fuzz >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null; }
export PATH="$PATH:$HOME/.dotnet/tools"
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish fuzz/Sluice.Fuzz -c Release -o "$work/bin" -nologo -v q
# The encoder-made seeds come from the plain build: instrumented code runs only under afl-fuzz.
dotnet "$work/bin/Sluice.Fuzz.dll" seeds "$work/seeds"
# Instrument the code under test, not the harness or the runtime.
for dll in Sluice.Packets.dll Sluice.Core.dll Sluice.Fuzz.Targets.dll; do sharpfuzz "$work/bin/$dll" >/dev/null; done

mkdir -p "$work/in"
[ -d "fuzz/corpus/$target" ] && cp "fuzz/corpus/$target"/* "$work/in/" 2>/dev/null || true
[ -d "$work/seeds/$target" ] && cp "$work/seeds/$target"/* "$work/in/"
[ -n "$(ls -A "$work/in")" ] || { echo "no seeds for $target (fuzz/corpus/$target is empty)" >&2; exit 2; }

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
afl-fuzz -i "$work/in" -o "$work/out" -V $((minutes * 60)) -t 10000 -m none -- dotnet "$work/bin/Sluice.Fuzz.dll" "$target" >"$work/afl.log" 2>&1 || {
  tail -20 "$work/afl.log" >&2; exit 1; }

stats="$work/out/default/fuzzer_stats"
execs=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$stats")
paths=$(awk -F: '/^corpus_count/ {gsub(/ /, "", $2); print $2}' "$stats")
found=0
for kind in crashes hangs; do
  for f in "$work/out/default/$kind"/id:*; do
    [ -e "$f" ] || continue
    mkdir -p "fuzz/regressions/$target"
    cp "$f" "fuzz/regressions/$target/$kind-$(sha256sum "$f" | cut -c1-16)"
    found=$((found + 1))
  done
done
echo "$target: $minutes min, $execs executions, $paths corpus entries, $found crashes/hangs$([ $found -gt 0 ] && echo " (copied to fuzz/regressions/$target/)")"
[ "$found" -eq 0 ]
