#!/usr/bin/env bash
# Memory budget: Sluice (TUN, direct lane, a Shadowsocks outbound for port 7100) in the client namespace:
# RSS idle (after SETTLE s), with FLOWS (default 1,000) concurrent idle TCP flows open through the direct
# lane, with FLOWS through the Shadowsocks lane, and with SESSIONS (default 10,000) UDP sessions opened
# through the direct lane (each one datagram and its echo; the engine keeps at most EngineLimits.UdpSessions
# alive); bytes per idle flow = (RSS with the flows − RSS before) / flows; peak RSS (VmHWM) at the end.
# Each flow sends one byte and gets it back before it idles, so a relay that rents buffers at the start
# and one that rents them while bytes are in flight both had data through them.
# Targets (issue #19): idle ≤ 30 MiB, peak ≤ 45 MiB.   bench/memory.sh [FLOWS] [SESSIONS] [SETTLE]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
FLOWS=${1:-1000}
SESSIONS=${2:-10000}
SETTLE=${3:-5}
bench_testbed
bench_netbench
bench_netbench_server "$ROUTER" 7000
bench_netbench_server "$ROUTER" 7100
ip netns exec "$ROUTER" ss-server -s 10.200.0.1 -p 8388 -k bench-password -m aes-128-gcm --no-delay > "$BENCH_DIR/ss-server.log" 2>&1 &
BENCH_PIDS+=($!)
CONFIG='{"log": {"level": "info"}, "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "shadowsocks", "tag": "ss", "server": "10.200.0.1", "server_port": 8388, "method": "aes-128-gcm", "password": "bench-password"}],
 "route": {"rules": [{"port": [7100], "outbound": "ss"}], "final": "direct"}}'
bench_start_sluice "$CONFIG"
sleep "$SETTLE"
idle=$(rss_mib "$SLUICE_PID")
# Where the resident memory is (GC heap, malloc arenas, stacks, the executable's pages, ...) and the peak so far.
breakdown() { echo "  $1: $(python3 "$ROOT/bench/tools/rss-breakdown.py" "$SLUICE_PID" "$(basename "${SLUICE[-1]}")"), peak so far $(peak_rss_mib "$SLUICE_PID")"; }
breakdown idle

# hold KIND PORT N: opens N flows (tcp) or sessions (udp), waits SETTLE s, prints RSS, closes them.
hold() {
  local fifo="$BENCH_DIR/hold-$1-$2" pid rss
  mkfifo "$fifo"
  ip netns exec "$CLIENT" "$NETBENCH" "$1" "$SERVER_V4" "$2" "$3" < "$fifo" > "$fifo.out" 2>&1 &
  pid=$!; BENCH_PIDS+=("$pid")
  exec 9> "$fifo"
  for _ in $(seq 600); do grep -q open "$fifo.out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  grep -q open "$fifo.out" || { echo "netbench $1 failed: $(cat "$fifo.out")" >&2; exit 1; }
  sleep "$SETTLE"
  rss=$(rss_mib "$SLUICE_PID")
  breakdown "$1 $2 × $3" >&2
  exec 9>&-
  wait "$pid" 2>/dev/null || true
  sleep 2
  echo "$rss"
}
per_flow() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.0f", (a - b) * 1048576 / n}'; }
before=$(rss_mib "$SLUICE_PID"); tcp_direct=$(hold hold 7000 "$FLOWS")
echo "direct lane: RSS $before MiB → $tcp_direct MiB with $FLOWS idle TCP flows: $(per_flow "$tcp_direct" "$before" "$FLOWS") bytes per idle flow"
before=$(rss_mib "$SLUICE_PID"); tcp_ss=$(hold hold 7100 "$FLOWS")
echo "shadowsocks lane: RSS $before MiB → $tcp_ss MiB with $FLOWS idle TCP flows: $(per_flow "$tcp_ss" "$before" "$FLOWS") bytes per idle flow"
before=$(rss_mib "$SLUICE_PID"); udp=$(hold udp 7000 "$SESSIONS")
echo "direct lane: RSS $before MiB → $udp MiB with $SESSIONS UDP sessions opened"
peak=$(peak_rss_mib "$SLUICE_PID")
breakdown end
bench_stop_sluice
verdict() { awk -v a="$1" -v b="$2" 'BEGIN {print (a <= b ? "met" : "unmet")}'; }
echo "memory: idle $idle MiB (target ≤ 30: $(verdict "$idle" 30)), peak $peak MiB (target ≤ 45: $(verdict "$peak" 45))"
