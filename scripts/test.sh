#!/usr/bin/env bash
# Runs every test: unit tests and the end-to-end namespace tests (root needed for the latter).
# Prints "N passed, N failed" at the end and exits non-zero if anything failed or nothing ran.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
# The end-to-end tests run against the NativeAOT `sluice` (what ships); unit tests run in the JIT build.
bash scripts/build-native.sh || exit 1
export SLUICE_BINARY=$PWD/artifacts/native/linux-x64/sluice
# The .deb the package tests install, upgrade and purge in a throwaway root (tests/Sluice.E2E/PackageTests.cs).
rm -rf dist && bash scripts/package.sh || exit 1

results=artifacts/test-results
rm -rf "$results"; mkdir -p "$results"
status=0
unfinished=()
before=$(mktemp)
trap 'rm -f "$before"' EXIT
for project in tests/Sluice.Packets.Tests tests/Sluice.Core.Tests tests/Sluice.Platform.Linux.Tests tests/Sluice.Daemon.Tests tests/Sluice.Cli.Tests tests/Sluice.E2E; do
  name=$(basename "$project")
  # The end-to-end tests must leave nothing behind: the host is compared before and after them.
  [ "$name" = Sluice.E2E ] && bash scripts/leftovers.sh snapshot "$before"
  echo "=== $name"
  # --blame names the tests in flight if the test host crashes; a hung test is ended and named after 10 minutes.
  dotnet test "$project" -c Release --no-build -nologo --blame --blame-hang-timeout 10m --blame-hang-dump-type none \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" --results-directory "$results" \
    2>&1 | tee "$results/$name.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { status=1; unfinished+=("$name (exit $rc)"); }
done
bash scripts/leftovers.sh check "$before" || status=1

# One summary line over all projects, from the TRX files.
python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find(".//{*}Counters")
    passed += int(c.get("passed")); failed += int(c.get("failed")) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    skipped += int(c.get("notExecuted", 0))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or skipped or passed == 0 else 0)
PY
[ $? -eq 0 ] || status=1
# The console log is long: repeat at its end what went wrong in each project that did not pass (a test host that
# crashed leaves no failed test in its TRX file, only fewer passed ones).
for entry in "${unfinished[@]}"; do
  name=${entry%% *}
  echo "=== $entry did not pass:"
  grep -E -A3 "^\s+Failed |aborted|crashed|Unhandled exception|were running|in progress" "$results/$name.log" | head -80
done
exit $status
