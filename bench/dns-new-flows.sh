#!/usr/bin/env bash
# Hijacked DNS when every query is a new flow (issue 17 review): a stub resolver (glibc, musl, dig) asks each query
# from a new UDP socket, so each query is a new 5-tuple on the TUN, a new UDP session, and the engine looks up the
# socket's owner (its share of the queries waiting for an upstream). bench/dns-throughput.sh's dnsperf keeps 4
# sockets for a whole slice and never shows that cost. Here `netbench dnsq` asks 1,000 cached names, each from a new
# socket, 8 in flight, against:
#   anchor:  dnsmasq as a caching forwarder on 127.0.0.53 in the client namespace
#   hijack:  Sluice's built-in server reached through the TUN (a query to the LAN resolver's address, port-53 rule)
# in alternating slices (anchor, hijack, anchor, ...), SLICES per run. Both forward misses to a dnsmasq in the router
# namespace (1 h TTL); a warm-up pass fills both caches. Prints q/s, p50/p99 (microseconds) and lost queries.
# STRACE=1: after the runs, one more hijack slice with strace counting the engine's syscalls per query.
# NAMES=0: every query a new name (all cache misses, forwarded upstream: the owner of each new flow is looked up);
# default 1000 names, all cached after the warm-up.
#   [NAMES=N] bench/dns-new-flows.sh [RUNS] [SECONDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECONDS_PER_SLICE=${2:-4}
SLICES=3
INFLIGHT=8
bench_testbed
bench_netbench
bench_dns_peers
sleep 0.5
CONFIG='{"log": {"level": "info"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "dns": {"servers": [{"type": "udp", "tag": "lan", "server": "10.200.0.1"}], "final": "lan"},
 "route": {"rules": [{"port": 53, "action": "hijack-dns"}], "final": "direct"}}'
declare -A SERVER=([anchor]="127.0.0.53" [hijack]="10.200.0.1")
NAMES=${NAMES:-1000}
slice() { ip netns exec "$CLIENT" "$NETBENCH" dnsq "${SERVER[$1]}" 53 "$2" "$INFLIGHT" "$NAMES"; }

declare -A QPS P99
echo "load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
  bench_start_sluice "$CONFIG"
  # Warm-up: fills both caches, and lets the runtime tier up the per-flow code (thousands of new flows).
  for t in anchor hijack anchor hijack; do slice "$t" 2 > /dev/null; done
  rm -f "$BENCH_DIR"/*.slices
  for _ in $(seq "$SLICES"); do for t in anchor hijack; do slice "$t" "$SECONDS_PER_SLICE" >> "$BENCH_DIR/$t.slices"; done; done
  line="run $i:"
  for t in anchor hijack; do
    read -r q p50 p99 lost <<< "$(awk '{q += $1; p50 += $2; p99 += $3; l += $4} END {printf "%.0f %.0f %.0f %d", q / NR, p50 / NR, p99 / NR, l}' "$BENCH_DIR/$t.slices")"
    QPS[$t]+=" $q"; P99[$t]+=" $p99"
    line+=" $t $q q/s p50 ${p50} us p99 ${p99} us lost $lost;"
  done
  echo "$line (load $(cut -d' ' -f1 /proc/loadavg))"
  if [ "$i" = "$RUNS" ] && [ -n "${STRACE:-}" ]; then
    strace -f -c -o "$BENCH_DIR/strace" -p "$SLUICE_PID" & STRACE_PID=$!
    sleep 1
    read -r q _ <<< "$(slice hijack 3)"
    kill -INT "$STRACE_PID"; wait "$STRACE_PID" 2>/dev/null || true
    echo "strace over one 3 s hijack slice ($q q/s under strace, ~$((q * 3)) queries); calls per query:"
    awk -v n="$((q * 3))" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && n > 0 {printf "  %-12s %.2f\n", $NF, $4 / n}' "$BENCH_DIR/strace" | sort -k2 -rn | head -12
  fi
  bench_stop_sluice
done
# shellcheck disable=SC2086  # space-separated numbers
aq=$(median ${QPS[anchor]}); hq=$(median ${QPS[hijack]}); ap=$(median ${P99[anchor]}); hp=$(median ${P99[hijack]})
echo "new socket per query ($([ "$NAMES" = 0 ] && echo "every name new: all misses" || echo "$NAMES names, cached")), median of $RUNS runs: dnsmasq $aq q/s p99 $ap us; sluice hijack $hq q/s p99 $hp us; q/s ratio $(ratio "$hq" "$aq"), p99 ratio $(ratio "$hp" "$ap") (load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
