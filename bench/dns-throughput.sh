#!/usr/bin/env bash
# Built-in DNS server cache vs dnsmasq's cache, same run: dnsperf in the client namespace asks
# 1,000 names (all cached after a warm-up pass) for SECONDS, median of RUNS (default 3).
#   anchor: dnsmasq as a caching forwarder on 127.0.0.53 in the client namespace
#   hijack:   Sluice's built-in server, reached the way apps reach it: a query to the LAN resolver's
#             address is hijacked on the TUN (port-53 rule) and answered from Sluice's cache
#   listener: the same server on its loopback DNS listener (a "direct" inbound on 127.0.0.1:5353,
#             same engine and config), for apps pointed straight at Sluice
# Both forward cache misses to a dnsmasq in the router namespace, whose answers carry a 1 h TTL
# (dnsmasq gives its own --address answers TTL 0 by default, which no cache keeps).
# Prints queries/s and p99 latency.
#   bench/dns-throughput.sh [RUNS] [SECONDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-10}

bench_testbed
ip netns exec "$ROUTER" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=10.200.0.1 \
  --address=/bench.example/203.0.113.10 --local-ttl=3600 --pid-file="$BENCH_DIR/upstream.pid" > /dev/null 2>&1 &
BENCH_PIDS+=($!)
ip netns exec "$CLIENT" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.53 \
  --server=10.200.0.1 --cache-size=10000 --pid-file="$BENCH_DIR/anchor.pid" > /dev/null 2>&1 &
BENCH_PIDS+=($!)
for i in $(seq 0 999); do echo "name$i.bench.example A"; done > "$BENCH_DIR/queries"
sleep 0.5

# Queries/s from an unthrottled run; p99 latency from a verbose run (one line per answer, ending
# in its latency in seconds) held at 5,000 q/s, so printing does not become the bottleneck.
perf() {  # $1: server, $2: port (default 53); prints "QPS P99_MS"
  local target=(-s "$1" -p "${2:-53}")
  ip netns exec "$CLIENT" dnsperf "${target[@]}" -d "$BENCH_DIR/queries" -l 1 -c 4 > /dev/null 2>&1 || true  # warm the cache
  ip netns exec "$CLIENT" dnsperf "${target[@]}" -d "$BENCH_DIR/queries" -l "$SECONDS_PER_RUN" -c 4 -T 2 > "$BENCH_DIR/qps.out" 2>&1 || true
  ip netns exec "$CLIENT" dnsperf "${target[@]}" -d "$BENCH_DIR/queries" -l 3 -c 4 -Q 5000 -v > "$BENCH_DIR/lat.out" 2>&1 || true
  python3 - "$BENCH_DIR/qps.out" "$BENCH_DIR/lat.out" <<'PY'
import re, sys
qps = float(re.search(r"Queries per second:\s+([\d.]+)", open(sys.argv[1]).read()).group(1))
lat = sorted(float(m) for m in re.findall(r"^> \S+ .* ([\d.]+)$", open(sys.argv[2]).read(), re.M))
p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else float("nan")
print(f"{qps:.0f} {p99:.3f}")
PY
}

CONFIG='{"log": {"level": "warn"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true},
              {"type": "direct", "tag": "dns-in", "listen": "127.0.0.1", "listen_port": 5353}],
 "dns": {"servers": [{"type": "udp", "tag": "lan", "server": "10.200.0.1"}], "final": "lan"},
 "route": {"rules": [{"inbound": "dns-in", "action": "hijack-dns"}, {"port": 53, "action": "hijack-dns"}], "final": "direct"}}'
CONFIG=${CONFIG/\"warn\"/\"info\"}

anchor_qps=(); anchor_p99=(); hijack_qps=(); hijack_p99=(); listener_qps=(); listener_p99=()
for i in $(seq "$RUNS"); do
  read -r q p <<< "$(perf 127.0.0.53)"; anchor_qps+=("$q"); anchor_p99+=("$p")
  bench_start_sluice "$CONFIG"
  read -r q p <<< "$(perf 10.200.0.1)"; hijack_qps+=("$q"); hijack_p99+=("$p")
  read -r q p <<< "$(perf 127.0.0.1 5353)"; listener_qps+=("$q"); listener_p99+=("$p")
  bench_stop_sluice
  echo "run $i: dnsmasq ${anchor_qps[-1]} q/s p99 ${anchor_p99[-1]} ms; sluice hijack ${hijack_qps[-1]} q/s p99 ${hijack_p99[-1]} ms;" \
    "sluice listener ${listener_qps[-1]} q/s p99 ${listener_p99[-1]} ms"
done
aq=$(median "${anchor_qps[@]}"); ap=$(median "${anchor_p99[@]}")
echo "DNS cache, median of $RUNS:"
echo "  dnsmasq          $aq q/s, p99 $ap ms"
for row in hijack listener; do
  declare -n qs="${row}_qps" ps="${row}_p99"
  q=$(median "${qs[@]}"); p=$(median "${ps[@]}")
  printf '  sluice %-9s %s q/s, p99 %s ms; q/s ratio %s, p99 ratio %s\n' "$row" "$q" "$p" "$(ratio "$q" "$aq")" "$(ratio "$p" "$ap")"
  unset -n qs ps
done
