#!/usr/bin/env bash
# A fuzz campaign: fuzz/run.sh TARGET[,TARGET...]|all [MINUTES] [mutate|afl]   (default 10 minutes, mutate)
# Several targets run one after another from one published harness, MINUTES each; FUZZ_JOBS=N runs N
# targets at a time (mutate only).
# - mutate: Sluice.Fuzz's own mutation loop over the seeds (not coverage-guided; needs nothing installed);
# - afl: coverage-guided AFL++ (Debian's afl++) over the SharpFuzz-instrumented assemblies. On this
#   machine AFL++ 4.04c aborts at the fork-server start with SharpFuzz 2.x (signal 6 before any input),
#   so it is kept for hosts where that pairing works, and mutate is the default.
# Seeds: fuzz/corpus/TARGET plus those only the real encoder can make (`Sluice.Fuzz seeds DIR`). Every
# failing input is copied to fuzz/regressions/TARGET/, where Core.Tests' FuzzCorpusTests replays it in each
# test run. Prints executions and failures; exits 1 when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=${1:?usage: fuzz/run.sh TARGET[,TARGET...]|all [MINUTES] [mutate|afl]}
minutes=${2:-10}
engine=${3:-mutate}
jobs=${FUZZ_JOBS:-1}

if [ -n "${SLUICE_FUZZ_PUBLISHED:-}" ]; then
  top=$SLUICE_FUZZ_PUBLISHED                       # one target of a multi-target run: reuse its harness
else
  top=$(mktemp -d)
  trap 'rm -rf "$top"' EXIT
  dotnet publish fuzz/Sluice.Fuzz -c Release -o "$top/bin" -nologo -v q
  dotnet "$top/bin/Sluice.Fuzz.dll" seeds "$top/seeds"
fi
if [ "$targets" = all ]; then
  # The target table is the truth: the usage line lists every registered target.
  targets=$({ dotnet "$top/bin/Sluice.Fuzz.dll" 2>&1 || true; } | sed -n 's/.*targets: //p' | tr -d ' ')
fi

if [[ "$targets" == *,* ]]; then
  [ "$engine" = mutate ] || { echo "several targets at once: mutate only" >&2; exit 2; }
  # One campaign per target from the same published harness; exit 1 when any of them failed.
  export SLUICE_FUZZ_PUBLISHED="$top"
  failed=0
  IFS=, read -ra list <<<"$targets"
  printf '%s\n' "${list[@]}" | xargs -P "$jobs" -I{} bash "$0" {} "$minutes" mutate || failed=1
  exit $failed
fi
target=$targets

work=$(mktemp -d -p "$top")
ln -s "$top/bin" "$work/bin"
ln -s "$top/seeds" "$work/seeds"
mkdir -p "$work/in"
[ -d "fuzz/corpus/$target" ] && cp "fuzz/corpus/$target"/* "$work/in/" 2>/dev/null || true
[ -d "$work/seeds/$target" ] && cp "$work/seeds/$target"/* "$work/in/"
[ -n "$(ls -A "$work/in")" ] || { echo "no seeds for $target (fuzz/corpus/$target is empty)" >&2; exit 2; }

keep() { # copy failing inputs into the regression folder
  local found=0 f
  for f in "$@"; do
    [ -e "$f" ] || continue
    case "$f" in *.txt) continue ;; esac
    mkdir -p "fuzz/regressions/$target"
    cp "$f" "fuzz/regressions/$target/$(basename "$f" | tr ':,' '__')"
    found=$((found + 1))
  done
  echo "$found"
}

if [ "$engine" = mutate ]; then
  set +e
  line=$(dotnet "$work/bin/Sluice.Fuzz.dll" "$target" --mutate $((minutes * 60)) "$work/in" "$work/out")
  set -e
  found=$(keep "$work/out"/crash-*)
  echo "$target: $minutes min, mutate, $line$([ "$found" -gt 0 ] && echo " (copied to fuzz/regressions/$target/; the stack traces were in $work/out/*.txt)")"
  [ "$found" -eq 0 ]
  exit
fi

command -v afl-fuzz >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null; }
export PATH="$PATH:$HOME/.dotnet/tools"
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine >/dev/null
# Instrument the code under test, not the harness or the runtime.
for dll in Sluice.Packets.dll Sluice.Core.dll Sluice.Fuzz.Targets.dll; do sharpfuzz "$work/bin/$dll" >/dev/null; done
# The target is `dotnet`, which AFL cannot see instrumented: SharpFuzz instruments the assemblies instead.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
afl-fuzz -i "$work/in" -o "$work/out" -V $((minutes * 60)) -t 10000 -m none -- dotnet "$work/bin/Sluice.Fuzz.dll" "$target" >"$work/afl.log" 2>&1 || {
  tail -20 "$work/afl.log" >&2; exit 1; }
stats="$work/out/default/fuzzer_stats"
execs=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$stats")
found=$(keep "$work/out/default/crashes"/id:* "$work/out/default/hangs"/id:*)
echo "$target: $minutes min, afl, $execs executions, $found crashes/hangs"
[ "$found" -eq 0 ]
