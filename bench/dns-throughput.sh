#!/usr/bin/env bash
# Built-in DNS server cache vs dnsmasq's cache, same run: dnsperf in the client namespace asks
# 1,000 names (all cached after a warm-up pass) for SECONDS, median of RUNS (default 3).
#   anchor:   dnsmasq as a caching forwarder on 127.0.0.53 in the client namespace
#   hijack:   Sluice's built-in server, reached the way apps reach it: a query to the LAN resolver's
#             address is hijacked on the TUN (port-53 rule) and answered from Sluice's cache
#   listener: the same server on its loopback DNS listener (a "direct" inbound on 127.0.0.1:5353,
#             same engine and config), for apps pointed straight at Sluice
# All forward cache misses to a dnsmasq in the router namespace, whose answers carry a 1 h TTL
# (dnsmasq gives its own --address answers TTL 0 by default, which no cache keeps).
# Prints queries/s and p99 latency.
#   bench/dns-throughput.sh [RUNS] [SECONDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-10}

bench_testbed
bench_dns_peers
for i in $(seq 0 999); do echo "name$i.bench.example A"; done > "$BENCH_DIR/queries"
sleep 0.5

# The three targets are measured in alternating slices within one run (anchor, hijack, listener,
# anchor, …), so a burst of load from elsewhere on the machine hits all of them alike.
# Queries/s: SLICES unthrottled slices per target, total queries over total time. p99 latency: from
# verbose slices (one line per answer, ending in its latency in seconds) held at 5,000 q/s, so
# printing does not become the bottleneck; the slices of one target are pooled.
SLICES=3
TARGETS=(anchor hijack listener)
declare -A SERVER=([anchor]="127.0.0.53 53" [hijack]="10.200.0.1 53" [listener]="127.0.0.1 5353")

slice() {  # $1: target, $2: qps|lat
  read -r server port <<< "${SERVER[$1]}"
  if [ "$2" = qps ]; then
    ip netns exec "$CLIENT" dnsperf -s "$server" -p "$port" -d "$BENCH_DIR/queries" -l "$(( (SECONDS_PER_RUN + SLICES - 1) / SLICES ))" -c 4 -T 2 \
      2>&1 | awk '/Queries completed:/ {q=$3} /Run time \(s\):/ {t=$4} END {print q, t}' >> "$BENCH_DIR/$1.qps" || true
  else
    # Straight into a file (block-buffered), filtered afterwards: a grep reading the per-query lines
    # through a pipe woke for every answer and took ~4 % of a core from the servers being measured.
    ip netns exec "$CLIENT" dnsperf -s "$server" -p "$port" -d "$BENCH_DIR/queries" -l 1 -c 4 -Q 5000 -v \
      >> "$BENCH_DIR/$1.lat" 2>&1 || true
  fi
}

summary() {  # $1: target; prints "QPS P99_MS P50_MS"
  python3 - "$BENCH_DIR/$1.qps" "$BENCH_DIR/$1.lat" <<'PY'
import re, sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 2]
qps = sum(float(q) for q, _ in rows) / max(sum(float(t) for _, t in rows), 1e-9)
lat = sorted(float(m) for m in re.findall(r"^> \S+ .* ([\d.]+)$", open(sys.argv[2]).read(), re.M))
pct = lambda p: lat[max(int(len(lat) * p) - 1, 0)] * 1000 if lat else float("nan")
print(f"{qps:.0f} {pct(0.99):.3f} {pct(0.5):.3f}")
PY
}

CONFIG='{"log": {"level": "warn"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true},
              {"type": "direct", "tag": "dns-in", "listen": "127.0.0.1", "listen_port": 5353}],
 "dns": {"servers": [{"type": "udp", "tag": "lan", "server": "10.200.0.1"}], "final": "lan"},
 "route": {"rules": [{"inbound": "dns-in", "action": "hijack-dns"}, {"port": 53, "action": "hijack-dns"}], "final": "direct"}}'
CONFIG=${CONFIG/\"warn\"/\"info\"}

declare -A QPS P99
for t in "${TARGETS[@]}"; do QPS[$t]=""; P99[$t]=""; done
for i in $(seq "$RUNS"); do
  bench_start_sluice "$CONFIG"
  rm -f "$BENCH_DIR"/*.qps "$BENCH_DIR"/*.lat
  # Warm the caches, and the engine: every dnsperf run opens new sockets, so each slice starts new
  # flows through the TUN, and until the runtime has tiered up the per-flow code (a few hundred new
  # flows) the first answers of a slice stalled 1-3 ms (not with DOTNET_TieredCompilation=0), which
  # a long-running engine is long past. 3 × 64 clients = 192 flows per target.
  for _ in 1 2 3; do for t in "${TARGETS[@]}"; do
    read -r server port <<< "${SERVER[$t]}"
    ip netns exec "$CLIENT" dnsperf -s "$server" -p "$port" -d "$BENCH_DIR/queries" -l 1 -c 64 > /dev/null 2>&1 || true
  done; done
  for _ in $(seq "$SLICES"); do for t in "${TARGETS[@]}"; do slice "$t" qps; done; done
  for _ in $(seq "$SLICES"); do for t in "${TARGETS[@]}"; do slice "$t" lat; done; done
  bench_stop_sluice
  line="run $i:"
  for t in "${TARGETS[@]}"; do
    read -r q p m <<< "$(summary "$t")"; QPS[$t]+=" $q"; P99[$t]+=" $p"
    line+=" $t $q q/s p50 $m p99 $p ms;"
  done
  echo "$line"
done
# shellcheck disable=SC2086  # the lists are space-separated numbers
aq=$(median ${QPS[anchor]}); ap=$(median ${P99[anchor]})
echo "DNS cache, median of $RUNS:"
echo "  dnsmasq          $aq q/s, p99 $ap ms"
for t in hijack listener; do
  # shellcheck disable=SC2086
  q=$(median ${QPS[$t]}); p=$(median ${P99[$t]})
  printf '  sluice %-9s %s q/s, p99 %s ms; q/s ratio %s, p99 ratio %s\n' "$t" "$q" "$p" "$(ratio "$q" "$aq")" "$(ratio "$p" "$ap")"
done
