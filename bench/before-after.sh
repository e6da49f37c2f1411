#!/usr/bin/env bash
# Before/after: the same macro benchmark against two builds in one run, so load from elsewhere on a shared
# machine hits both alike.
# 1. builds REF and the current tree (HEAD plus uncommitted changes to tracked files), JIT Release, each in
#    its own git worktree under one mktemp -d, into its own output directory;
# 2. runs each bench script once per build per round (RUNS=1, the script's anchor too), alternating
#    before/after, for ROUNDS rounds (default 3), with SLUICE_BINARY pointing at the build;
# 3. prints per figure the median of each build and the ratio after/before (> 1: the current tree is faster);
# 4. removes the worktrees and builds, also on failure.
# Needs root and what the bench scripts need (iperf3, shadowsocks-libev).
#   [ROUNDS=3] [ARGS="..."] bench/before-after.sh REF [bench-script ...]
# Default scripts: bench/direct-throughput.sh and bench/proxy-throughput.sh; ARGS replaces a script's arguments
# after RUNS (defaults: direct "5" seconds, proxy "512" MiB with WARMUP=2000).
set -euo pipefail
REF=${1:?usage: bench/before-after.sh REF [bench-script ...]}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPTS=("$@")
[ ${#SCRIPTS[@]} -gt 0 ] || SCRIPTS=("$ROOT/bench/direct-throughput.sh" "$ROOT/bench/proxy-throughput.sh")
ROUNDS=${ROUNDS:-3}
# Hold the bench lock for all rounds (the scripts it runs inherit it; see bench/lib.sh).
if [ -z "${SLUICE_BENCH_LOCKED:-}" ]; then exec 9>/run/sluice-bench.lock; flock 9; export SLUICE_BENCH_LOCKED=1; fi
WORK=$(mktemp -d)

cleanup() {
  set +e
  git -C "$ROOT" worktree remove --force "$WORK/before-src" 2>/dev/null
  git -C "$ROOT" worktree remove --force "$WORK/after-src" 2>/dev/null
  git -C "$ROOT" worktree prune
  rm -rf "$WORK"
}
trap cleanup EXIT

build() {  # build NAME COMMIT [PATCH]: a worktree at COMMIT (plus PATCH), sluice built into $WORK/NAME
  local name=$1 commit=$2 patch=${3:-}
  git -C "$ROOT" worktree add --detach --quiet "$WORK/$name-src" "$commit"
  if [ -n "$patch" ] && [ -s "$patch" ]; then git -C "$WORK/$name-src" apply "$patch"; fi
  echo "building $name ($(git -C "$WORK/$name-src" log -1 --format='%h %s' | cut -c1-70))" >&2
  dotnet build "$WORK/$name-src/src/Sluice.Cli" -c Release -nologo -v q -o "$WORK/$name" > "$WORK/$name-build.log" 2>&1 \
    || { tail -30 "$WORK/$name-build.log" >&2; return 1; }
  [ -x "$WORK/$name/sluice" ] || { echo "no $WORK/$name/sluice after the build" >&2; return 1; }
}

git -C "$ROOT" diff HEAD > "$WORK/uncommitted.patch"
build before "$(git -C "$ROOT" rev-parse --verify "$REF^{commit}")"
build after "$(git -C "$ROOT" rev-parse HEAD)" "$WORK/uncommitted.patch"

# The summary lines of a bench script ("label: ... sluice N ..., ratio R") as "label<TAB>N" and, where the line
# has the ratio to the script's own anchor (measured in the same run), "label vs anchor<TAB>R": on a loaded
# machine the absolute figures swing from run to run, the ratio to the anchor much less.
figures() { sed -nE -e h -e 's/^ *([^:]+):.*[ ,]sluice ([0-9.]+).*/\1\t\2/p' -e g -e 's/^ *([^:]+):.*[ ,]sluice [0-9.]+.*, ratio ([0-9.]+).*/\1 vs anchor\t\2/p'; }

default_args() {
  case "$(basename "$1")" in
    direct-throughput.sh) echo 5 ;;
    proxy-throughput.sh) echo 512 ;;
    *) echo ;;
  esac
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "load before the runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for script in "${SCRIPTS[@]}"; do
  # shellcheck disable=SC2086 # ARGS is a list of words
  args=(${ARGS:-$(default_args "$script")})
  : > "$WORK/before.fig"; : > "$WORK/after.fig"
  for round in $(seq "$ROUNDS"); do
    for name in before after; do
      out=$(SLUICE_BINARY="$WORK/$name/sluice" WARMUP=${WARMUP:-2000} bash "$script" 1 "${args[@]}" 2>&1) \
        || { echo "$out" >&2; echo "$(basename "$script") failed on the $name build" >&2; exit 1; }
      echo "$out" | figures | tee -a "$WORK/$name.fig" | sed "s/^/$(basename "$script") round $round $name: /"
    done
  done
  echo "== $(basename "$script"): median of $ROUNDS, before = $REF, after = current tree"
  cut -f1 "$WORK/after.fig" | awk '!seen[$0]++' | while IFS= read -r label; do
    b=$(median $(awk -F'\t' -v l="$label" '$1 == l {print $2}' "$WORK/before.fig"))
    a=$(median $(awk -F'\t' -v l="$label" '$1 == l {print $2}' "$WORK/after.fig"))
    echo "  $label: before $b, after $a, ratio $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
  done
done
echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
