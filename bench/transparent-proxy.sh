#!/usr/bin/env bash
# The transparent proxy path: apps in the client namespace that know nothing of proxies make plain TCP
# connections to the router namespace (bench/tools/netbench.c), carried by Shadowsocks (METHOD, default
# aes-128-gcm) to ss-server in the router namespace:
#   anchor: nftables `redirect` in nat output (the proxies' own uid, nobody, skipped) → redsocks → ss-local → ss-server
#   Sluice: TUN capture (auto_route) → `shadowsocks` outbound → the same ss-server
# Throughput of one connection each way (SECONDS, default 5) and connections/s (COUNT sequential
# connect + 1 byte each way + close, after WARMUP untimed) with p50/p99 per connection; peak RSS of
# each side (redsocks + ss-local vs sluice). Alternating, median of RUNS (default 3), ratios printed.
# Targets (issue #19): throughput ≥ 1.5×, connections/s ≥ 1.2×.
#   [WARMUP=1000] bench/transparent-proxy.sh [RUNS] [SECONDS] [COUNT] [METHOD]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-5}
COUNT=${3:-2000}
METHOD=${4:-aes-128-gcm}
WARMUP=${WARMUP:-1000}
PASSWORD=bench-password
bench_testbed
bench_netbench
bench_netbench_server "$ROUTER" 7000
for ns in "$CLIENT" "$ROUTER"; do
  ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
done
ip netns exec "$ROUTER" ss-server -s 10.200.0.1 -p 8388 -k "$PASSWORD" -m "$METHOD" --no-delay > "$BENCH_DIR/ss-server.log" 2>&1 &
BENCH_PIDS+=($!)
cat > "$BENCH_DIR/redsocks.conf" <<CONF
base { log_debug = off; log_info = off; log = stderr; daemon = off; redirector = iptables; user = nobody; group = nogroup; }
redsocks { local_ip = 127.0.0.1; local_port = 12345; ip = 127.0.0.1; port = 1080; type = socks5; }
CONF
chmod 644 "$BENCH_DIR/redsocks.conf"; chmod 755 "$BENCH_DIR"
NOBODY=$(id -u nobody)

start_anchor() {
  ip netns exec "$CLIENT" ss-local -a nobody -s 10.200.0.1 -p 8388 -l 1080 -b 127.0.0.1 -k "$PASSWORD" -m "$METHOD" --no-delay > "$BENCH_DIR/ss-local.log" 2>&1 &
  SS_LOCAL_PID=$!; BENCH_PIDS+=("$SS_LOCAL_PID")
  ip netns exec "$CLIENT" redsocks -c "$BENCH_DIR/redsocks.conf" > "$BENCH_DIR/redsocks.log" 2>&1 &
  REDSOCKS_PID=$!; BENCH_PIDS+=("$REDSOCKS_PID")
  ip netns exec "$CLIENT" nft -f - <<NFT
table ip sluicebench {
  chain out {
    type nat hook output priority -100;
    ip daddr 127.0.0.0/8 return
    meta skuid $NOBODY return
    meta l4proto tcp redirect to :12345
  }
}
NFT
  for _ in $(seq 50); do
    ip netns exec "$CLIENT" ss -Hltn 'sport = :12345' | grep -q LISTEN && ip netns exec "$CLIENT" ss -Hltn 'sport = :1080' | grep -q LISTEN && return 0
    sleep 0.1
  done
  echo "redsocks or ss-local did not start" >&2; cat "$BENCH_DIR/redsocks.log" "$BENCH_DIR/ss-local.log" >&2; return 1
}
anchor_rss() { awk -v a="$(peak_rss_mib "$SS_LOCAL_PID")" -v b="$(peak_rss_mib "$REDSOCKS_PID")" 'BEGIN {printf "%.1f", a + b}'; }
stop_anchor() {
  ip netns exec "$CLIENT" nft delete table ip sluicebench
  kill "$SS_LOCAL_PID" "$REDSOCKS_PID" 2>/dev/null; wait "$SS_LOCAL_PID" "$REDSOCKS_PID" 2>/dev/null || true
}
CONFIG="{\"log\":{\"level\":\"info\"},\"inbounds\":[{\"type\":\"tun\",\"address\":[\"172.19.0.1/30\"],\"auto_route\":true}],\
\"outbounds\":[{\"type\":\"shadowsocks\",\"tag\":\"ss\",\"server\":\"10.200.0.1\",\"server_port\":8388,\"method\":\"$METHOD\",\"password\":\"$PASSWORD\"},{\"type\":\"direct\",\"tag\":\"direct\"}],\
\"route\":{\"final\":\"ss\"}}"

nb() { ip netns exec "$CLIENT" "$NETBENCH" "$@"; }
measure() {  # prints "up-Gbit/s down-Gbit/s conn/s p50-µs p99-µs"
  local up down
  up=$(nb streams "$SERVER_V4" 7000 1 "$SECONDS_PER_RUN" up)
  down=$(nb streams "$SERVER_V4" 7000 1 "$SECONDS_PER_RUN" down)
  [ "$WARMUP" -gt 0 ] && nb conns "$SERVER_V4" 7000 "$WARMUP" > /dev/null
  echo "$up $down $(nb conns "$SERVER_V4" 7000 "$COUNT")"
}

declare -A r
add() { r[$1]="${r[$1]:-} $2"; }
for i in $(seq "$RUNS"); do
  start_anchor
  read -r up down cps p50 p99 < <(measure)
  add aup "$up"; add adown "$down"; add acps "$cps"; add a50 "$p50"; add a99 "$p99"; add arss "$(anchor_rss)"
  stop_anchor
  echo "run $i: redsocks+ss-local up $up down $down Gbit/s, $cps conn/s (p50 $p50 p99 $p99 µs), peak RSS $(echo ${r[arss]} | awk '{print $NF}') MiB"
  bench_start_sluice "$CONFIG"
  read -r up down cps p50 p99 < <(measure)
  add sup "$up"; add sdown "$down"; add scps "$cps"; add s50 "$p50"; add s99 "$p99"; add srss "$(peak_rss_mib "$SLUICE_PID")"
  bench_stop_sluice
  echo "run $i: sluice TUN→shadowsocks up $up down $down Gbit/s, $cps conn/s (p50 $p50 p99 $p99 µs), peak RSS $(echo ${r[srss]} | awk '{print $NF}') MiB"
done
m() { median ${r[$1]}; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN {print (a >= b ? "met" : "unmet")}'; }
echo "transparent proxy, shadowsocks $METHOD (median of $RUNS):"
echo "  client→server: redsocks+ss-local $(m aup) Gbit/s, sluice $(m sup) Gbit/s, ratio $(ratio "$(m sup)" "$(m aup)") (target ≥ 1.5: $(verdict "$(ratio "$(m sup)" "$(m aup)")" 1.5))"
echo "  server→client: redsocks+ss-local $(m adown) Gbit/s, sluice $(m sdown) Gbit/s, ratio $(ratio "$(m sdown)" "$(m adown)") (target ≥ 1.5: $(verdict "$(ratio "$(m sdown)" "$(m adown)")" 1.5))"
echo "  connections/s ($COUNT after $WARMUP untimed): redsocks+ss-local $(m acps) (p50 $(m a50) p99 $(m a99) µs), sluice $(m scps) (p50 $(m s50) p99 $(m s99) µs), ratio $(ratio "$(m scps)" "$(m acps)") (target ≥ 1.2: $(verdict "$(ratio "$(m scps)" "$(m acps)")" 1.2))"
echo "  peak RSS: redsocks+ss-local $(m arss) MiB, sluice $(m srss) MiB (target ≤ 45: $(awk -v s="$(m srss)" 'BEGIN {print (s <= 45 ? "met" : "unmet")}'))"
