#!/usr/bin/env bash
# Direct-lane TCP throughput: iperf3 from the client namespace to the router namespace, without
# Sluice (the anchor) and through Sluice's direct lane, in the same run; median of N runs each
# (default 3), printed with the ratio. Needs root and a Release build (scripts/install.sh).
#   bench/direct-throughput.sh [RUNS] [SECONDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-5}

bench_testbed
ip netns exec "$ROUTER" iperf3 -s -B "$SERVER_V4" > /dev/null 2>&1 &
BENCH_PIDS+=($!)
sleep 0.5

iperf() {  # prints Gbit/s received, client → server
  ip netns exec "$CLIENT" iperf3 -c "$SERVER_V4" -t "$SECONDS_PER_RUN" -J \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)'
}

# The engine on its defaults (MTU=N in the environment overrides the TUN MTU).
MTU_FIELD=${MTU:+\"mtu\":$MTU,}
CONFIG="{\"log\":{\"level\":\"info\"},\"inbounds\":[{\"type\":\"tun\",\"address\":[\"172.19.0.1/30\"],$MTU_FIELD\"auto_route\":true}],\"route\":{\"final\":\"direct\"}}"
anchor=(); sluice=()
for i in $(seq "$RUNS"); do
  anchor+=("$(iperf)")
  bench_start_sluice "$CONFIG"
  sluice+=("$(iperf)")
  bench_stop_sluice
  echo "run $i: no engine ${anchor[-1]} Gbit/s, sluice direct ${sluice[-1]} Gbit/s"
done
a=$(median "${anchor[@]}"); s=$(median "${sluice[@]}")
echo "direct-lane TCP: no engine $a Gbit/s, sluice $s Gbit/s, ratio $(ratio "$s" "$a") (median of $RUNS)"
