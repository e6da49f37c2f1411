#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install everything, build, run `sluice demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec dotnet demo/Sluice.Demo/bin/Release/net10.0/sluice.dll demo "$@"
