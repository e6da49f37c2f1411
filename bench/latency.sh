#!/usr/bin/env bash
# Latency where a lone packet is all there is:
# 1. ping RTT through the WireGuard lane, idle (one echo every 200 ms) and right after 3 s of iperf3 load,
#    Sluice (client) ↔ wireguard-go (router) against wireguard-go ↔ wireguard-go;
# 2. TCP request/response (bench/tools/netbench.c `rr`: one request in flight, 1 byte each way, ROUNDS
#    rounds after 100 untimed) p50/p99 on the bare path (no engine), through wireguard-go and through ss-local (the
#    anchors' crypto cost: the app speaks SOCKS5 to shadowsocks-libev's ss-local on 127.0.0.1, which carries it to
#    the same ss-server), and through Sluice's direct, WireGuard and Shadowsocks (aes-128-gcm → ss-server) lanes.
# Alternating anchor and Sluice, median of RUNS (default 3); ratios and the issue #19 targets printed:
# ping ≤ wireguard-go's; each lane's p99 ≤ 1.5 × bare p99 + its anchor's extra (wireguard-go's p99 − bare
# p99 for the WireGuard lane, ss-local's p99 − bare p99 for the Shadowsocks lane; none for the direct lane).
#   bench/latency.sh [RUNS] [ROUNDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
ROUNDS=${2:-10000}
bench_wireguard_router
bench_netbench
bench_netbench_server "$ROUTER" 7000
bench_netbench_server "$ROUTER" 7100
ip netns exec "$ROUTER" ss-server -s 10.200.0.1 -p 8388 -k bench-password -m aes-128-gcm --no-delay > "$BENCH_DIR/ss-server.log" 2>&1 &
BENCH_PIDS+=($!)
sleep 0.5

CONFIG=$(cat <<JSON
{"log": {"level": "warn"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420,
   "peers": [{"address": "10.200.0.1", "port": 51820, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"]}]}],
 "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "shadowsocks", "tag": "ss", "server": "10.200.0.1", "server_port": 8388, "method": "aes-128-gcm", "password": "bench-password"}],
 "route": {"rules": [{"ip_cidr": "10.66.0.0/24", "outbound": "wg"}, {"port": [7100], "outbound": "ss"}], "final": "direct"}}
JSON
)
# The log line "engine started" is info; the bench starter waits for it, so keep info for the start.
CONFIG=${CONFIG/\"warn\"/\"info\"}

ping_ms() {  # $1: count; prints the median RTT in ms of echoes 200 ms apart through the tunnel
  ip netns exec "$CLIENT" ping -n -c "$1" -i 0.2 -W 1 10.66.0.1 | grep -o 'time=[0-9.]*' | cut -d= -f2 > "$BENCH_DIR/ping"
  median $(cat "$BENCH_DIR/ping")
}
wait_tunnel() { for _ in $(seq 50); do ip netns exec "$CLIENT" ping -c 1 -W 1 10.66.0.1 > /dev/null 2>&1 && return 0; sleep 0.1; done; }
loaded_ping_ms() {  # 3 s of iperf3 through the tunnel, then 5 echoes at once
  ip netns exec "$CLIENT" iperf3 -c 10.66.0.1 -t 3 > /dev/null 2>&1 || true
  ping_ms 5
}
rr() { ip netns exec "$CLIENT" "$NETBENCH" rr "$1" "$2" "$ROUNDS" ${3:-}; }
start_ss_local() {  # the Shadowsocks anchor: ss-local in the client namespace, SOCKS5 on 127.0.0.1:1080
  ip netns exec "$CLIENT" ss-local -s 10.200.0.1 -p 8388 -l 1080 -b 127.0.0.1 -k bench-password -m aes-128-gcm --no-delay \
    > "$BENCH_DIR/ss-local.log" 2>&1 &
  SS_LOCAL_PID=$!; BENCH_PIDS+=("$SS_LOCAL_PID")
  for _ in $(seq 50); do ip netns exec "$CLIENT" ss -Hltn 'sport = :1080' | grep -q LISTEN && return 0; sleep 0.1; done
  echo "ss-local did not start" >&2; cat "$BENCH_DIR/ss-local.log" >&2; return 1
}
stop_ss_local() { kill "$SS_LOCAL_PID" 2>/dev/null; wait "$SS_LOCAL_PID" 2>/dev/null || true; }

declare -A r
add() { r[$1]="${r[$1]:-} $2"; }
for i in $(seq "$RUNS"); do
  read -r p50 p99 < <(rr "$SERVER_V4" 7000); add bare50 "$p50"; add bare99 "$p99"
  start_wg_client; wait_tunnel
  add wgping "$(ping_ms 15)"; add wgload "$(loaded_ping_ms)"
  read -r p50 p99 < <(rr 10.66.0.1 7000); add wg50 "$p50"; add wg99 "$p99"
  stop_wg_client
  start_ss_local
  read -r p50 p99 < <(rr "$SERVER_V4" 7100 1080); add ssl50 "$p50"; add ssl99 "$p99"
  stop_ss_local
  bench_start_sluice "$CONFIG"; wait_tunnel
  add sping "$(ping_ms 15)"; add sload "$(loaded_ping_ms)"
  read -r p50 p99 < <(rr "$SERVER_V4" 7000); add d50 "$p50"; add d99 "$p99"
  read -r p50 p99 < <(rr 10.66.0.1 7000); add w50 "$p50"; add w99 "$p99"
  read -r p50 p99 < <(rr "$SERVER_V4" 7100); add s50 "$p50"; add s99 "$p99"
  rss=$(peak_rss_mib "$SLUICE_PID")
  bench_stop_sluice
  echo "run $i: ping ms idle/after load: wireguard-go $(echo ${r[wgping]} | awk '{print $NF}')/$(echo ${r[wgload]} | awk '{print $NF}')," \
       "sluice $(echo ${r[sping]} | awk '{print $NF}')/$(echo ${r[sload]} | awk '{print $NF}'); rr p99 µs: bare $(echo ${r[bare99]} | awk '{print $NF}')," \
       "wireguard-go $(echo ${r[wg99]} | awk '{print $NF}'), ss-local $(echo ${r[ssl99]} | awk '{print $NF}'), sluice direct $(echo ${r[d99]} | awk '{print $NF}') wg $(echo ${r[w99]} | awk '{print $NF}')" \
       "ss $(echo ${r[s99]} | awk '{print $NF}'); sluice peak RSS $rss MiB"
done
m() { median ${r[$1]}; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN {print (a <= b ? "met" : "unmet")}'; }
echo "latency (median of $RUNS; rr = $ROUNDS rounds of 1 byte each way, one in flight):"
echo "  WireGuard ping idle:       wireguard-go $(m wgping) ms, sluice $(m sping) ms, ratio $(ratio "$(m sping)" "$(m wgping)") (target ≤ 1: $(verdict "$(m sping)" "$(m wgping)"))"
echo "  WireGuard ping after load: wireguard-go $(m wgload) ms, sluice $(m sload) ms, ratio $(ratio "$(m sload)" "$(m wgload)") (target ≤ 1: $(verdict "$(m sload)" "$(m wgload)"))"
echo "  rr p50/p99 µs: bare $(m bare50)/$(m bare99), wireguard-go $(m wg50)/$(m wg99), ss-local $(m ssl50)/$(m ssl99)"
extra() { awk -v a="$(m "$1")" -v b="$(m bare99)" 'BEGIN {print (a > b ? a - b : 0)}'; }
for lane in d:direct:0 w:wireguard:$(extra wg99) s:shadowsocks:$(extra ssl99); do
  IFS=: read -r k name extra <<< "$lane"
  limit=$(awk -v b="$(m bare99)" -v e="$extra" 'BEGIN {printf "%.1f", 1.5 * b + e}')
  echo "  sluice $name: p50 $(m ${k}50) µs, p99 $(m ${k}99) µs, p99 ratio to bare $(ratio "$(m ${k}99)" "$(m bare99)") (target p99 ≤ $limit: $(verdict "$(m ${k}99)" "$limit"))"
done
