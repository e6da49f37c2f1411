#!/usr/bin/env bash
# Scaling curve: 1, 10, 100 and 1,000 concurrent TCP streams (bench/tools/netbench.c `streams`, client →
# server, SECONDS each after 1 s of ramp-up) through Sluice's direct, WireGuard (→ wireguard-go in the
# router namespace) and Shadowsocks (aes-128-gcm → ss-server) lanes: throughput, Sluice's CPU per Gbit/s
# (cores busy per Gbit/s, from its threads' schedstat) and its RSS; the anchors in the same run: the bare
# veth for the direct lane, wireguard-go ↔ wireguard-go for WireGuard (none for Shadowsocks).
# Writes bench/results/scaling-DATE.tsv and, when python3 has matplotlib (Debian python3-matplotlib),
# bench/results/scaling-DATE.png (bench/plot-scaling.py).   bench/scaling.sh [SECONDS] [COUNTS]
# LANES (default "bare wireguard-go direct wireguard shadowsocks") picks the lanes, e.g. LANES=shadowsocks
# bench/scaling.sh 3 1000 for the one point. BREAKDOWN=1: where Sluice's resident memory is halfway through each
# point (bench/tools/rss-breakdown.py: GC heap, malloc arenas, stacks, image, files, other anonymous).
# DIRECTION=down: the streams carry server → client (default up: client → server).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_PER_RUN=${1:-3}
COUNTS=${2:-1 10 100 1000}
LANES=${LANES:-bare wireguard-go direct wireguard shadowsocks}
DIRECTION=${DIRECTION:-up}
lane() { [[ " $LANES " == *" $1 "* ]]; }
bench_wireguard_router
bench_netbench
bench_netbench_server "$ROUTER" 7000
bench_netbench_server "$ROUTER" 7100
ip netns exec "$ROUTER" ss-server -s 10.200.0.1 -p 8388 -k bench-password -m aes-128-gcm --no-delay > "$BENCH_DIR/ss-server.log" 2>&1 &
BENCH_PIDS+=($!)
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/scaling-$(date -u +%Y%m%d-%H%M).tsv"
printf 'lane\tstreams\tgbits\tcpu_per_gbit\trss_mib\n' > "$OUT"

CONFIG=$(cat <<JSON
{"log": {"level": "info"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420,
   "peers": [{"address": "10.200.0.1", "port": 51820, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"]}]}],
 "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "shadowsocks", "tag": "ss", "server": "10.200.0.1", "server_port": 8388, "method": "aes-128-gcm", "password": "bench-password"}],
 "route": {"rules": [{"ip_cidr": "10.66.0.0/24", "outbound": "wg"}, {"port": [7100, 7101, 7102], "outbound": "ss"}], "final": "direct"}}
JSON
)

# point LANE HOST PORT N [PID]: one measurement; with PID, that process's CPU per Gbit/s and RSS too.
point() {
  local lane=$1 host=$2 port=$3 n=$4 pid=${5:-} c0 c1 g cpu rss sampler=
  [ -n "$pid" ] && read -r _ c0 _ _ _ < <(proc_counters "$pid")
  # A point that fails (a peer resetting streams) is recorded as 0 with its error, and the curve goes on.
  if [ -n "${BREAKDOWN:-}" ] && [ -n "$pid" ]; then
    ( sleep "$(( (SECONDS_PER_RUN + 1) / 2 + 1 ))"
      echo "  $lane, $n streams, mid-run: $(python3 "$ROOT/bench/tools/rss-breakdown.py" "$pid" "$(basename "${SLUICE[-1]}")")" ) &
    sampler=$!
  fi
  g=$(ip netns exec "$CLIENT" "$NETBENCH" streams "$host" "$port" "$n" "$SECONDS_PER_RUN" "$DIRECTION" 2> "$BENCH_DIR/streams.err") \
    || { echo "$lane, $n streams failed: $(cat "$BENCH_DIR/streams.err")" >&2; g=0
         # what the engine and ss-server said about it (the last lines that are not routine)
         for log in sluice.log ss-server.log; do
           [ -f "$BENCH_DIR/$log" ] && grep -aiE 'warn|fail|error|reset|too many|refused' "$BENCH_DIR/$log" | tail -5 | sed "s/^/  $log: /" >&2
         done; }
  if [ -n "$pid" ]; then
    read -r _ c1 _ _ _ < <(proc_counters "$pid")
    # CPU over the ramp-up second too, so divide by the whole time the streams ran.
    cpu=$(awk -v c=$((c1 - c0)) -v s="$SECONDS_PER_RUN" -v g="$g" 'BEGIN {printf "%.3f", (g > 0 ? c / 1e9 / (s + 1) / g : 0)}')
    rss=$(rss_mib "$pid")
    [ -z "$sampler" ] || wait "$sampler"
  else cpu=; rss=; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$lane" "$n" "$g" "$cpu" "$rss" >> "$OUT"
  echo "$lane, $n streams: $g Gbit/s${cpu:+, $cpu cores per Gbit/s, RSS $rss MiB}"
  sleep 1  # let the last streams' sockets close before the next point
}

if lane bare; then for n in $COUNTS; do point "bare veth" "$SERVER_V4" 7000 "$n"; done; fi
if lane wireguard-go; then
  start_wg_client
  for n in $COUNTS; do point "wireguard-go" 10.66.0.1 7000 "$n" "$WGC_PID"; done
  stop_wg_client
fi
bench_start_sluice "$CONFIG"
IDLE_FDS=$(ls /proc/"$SLUICE_PID"/fd | wc -l)
if lane direct; then for n in $COUNTS; do point "sluice direct" "$SERVER_V4" 7000 "$n" "$SLUICE_PID"; done; fi
if lane wireguard; then
  for _ in $(seq 50); do ip netns exec "$CLIENT" ping -c 1 -W 1 10.66.0.1 > /dev/null 2>&1 && break; sleep 0.1; done
  for n in $COUNTS; do point "sluice wireguard" 10.66.0.1 7000 "$n" "$SLUICE_PID"; done
fi
if lane shadowsocks; then for n in $COUNTS; do point "sluice shadowsocks" "$SERVER_V4" 7100 "$n" "$SLUICE_PID"; done; fi
wait_flows_closed "$SLUICE_PID" "$IDLE_FDS"
echo "sluice peak RSS over the whole curve (the last flows closed): $(peak_rss_mib "$SLUICE_PID") MiB"
bench_stop_sluice
echo "table: $OUT"
if /usr/bin/python3 -c 'import matplotlib' 2> /dev/null; then
  /usr/bin/python3 "$ROOT/bench/plot-scaling.py" "$OUT" "${OUT%.tsv}.png" && echo "plot: ${OUT%.tsv}.png"
else
  echo "no matplotlib for /usr/bin/python3 (apt-get install python3-matplotlib): no plot"
fi
