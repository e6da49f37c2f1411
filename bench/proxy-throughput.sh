#!/usr/bin/env bash
# Proxy lane: TCP throughput and connections/s through a SOCKS5 front → Shadowsocks → ss-server →
# a sink server, comparing Sluice's `mixed` inbound + shadowsocks outbound against shadowsocks-libev's
# own ss-local, same cipher, same ss-server, same run; median of N runs each (default 3), with ratios.
# Needs root, shadowsocks-libev and a Release build (scripts/install.sh).
#   [WARMUP=6000] [SLICES=5] bench/proxy-throughput.sh [RUNS] [MIB_PER_RUN] [CONNECTIONS] [METHOD]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
MIB=${2:-2048}
CONNS=${3:-500}
METHOD=${4:-aes-128-gcm}
PASSWORD=bench-password
SS_PORT=8388
SOCKS_PORT=1080

bench_testbed
# Tens of thousands of short connections per run: let TIME_WAIT ports be reused and widen the
# ephemeral range, or connects start failing with EADDRNOTAVAIL (for either front) mid-run.
for ns in "$CLIENT" "$ROUTER"; do
  ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
done
cp "$ROOT/bench/tools/proxy-peers.py" "$BENCH_DIR/peers.py"

ip netns exec "$ROUTER" python3 "$BENCH_DIR/peers.py" serve 5201 "$MIB" > "$BENCH_DIR/peers.log" 2>&1 &
BENCH_PIDS+=($!)
ip netns exec "$ROUTER" ss-server -s 10.200.0.1 -p $SS_PORT -k $PASSWORD -m "$METHOD" --no-delay > "$BENCH_DIR/ss-server.log" 2>&1 &
BENCH_PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$BENCH_DIR/peers.log" && break; sleep 0.1; done
sleep 0.5

SLUICE_PORT=$((SOCKS_PORT + 1))
start_ss_local() {
  ip netns exec "$CLIENT" ss-local -s 10.200.0.1 -p $SS_PORT -l $SOCKS_PORT -b 127.0.0.1 -k $PASSWORD -m "$METHOD" --no-delay > "$BENCH_DIR/ss-local.log" 2>&1 &
  SS_LOCAL_PID=$!; BENCH_PIDS+=("$SS_LOCAL_PID")
  for _ in $(seq 50); do ip netns exec "$CLIENT" ss -Hltn "sport = :$SOCKS_PORT" | grep -q LISTEN && return 0; sleep 0.1; done
  echo "ss-local did not start" >&2; return 1
}
stop_ss_local() { kill "$SS_LOCAL_PID" 2>/dev/null; wait "$SS_LOCAL_PID" 2>/dev/null || true; }

CONFIG="{\"log\":{\"level\":\"info\"},\"inbounds\":[{\"type\":\"mixed\",\"listen\":\"127.0.0.1\",\"listen_port\":$SLUICE_PORT}],\
\"outbounds\":[{\"type\":\"shadowsocks\",\"tag\":\"ss\",\"server\":\"10.200.0.1\",\"server_port\":$SS_PORT,\"method\":\"$METHOD\",\"password\":\"$PASSWORD\"}],\
\"route\":{\"final\":\"ss\"}}"

WARMUP=${WARMUP:-6000}  # connections made (not timed) before the timed ones, for both fronts: steady state, not JIT warm-up
# (the runtime tiers hot methods up over the first ~5,000 connections: bench/README.md has the per-window figures;
# a long-running engine lives past that)
SLICES=${SLICES:-5}      # the timed connections alternate between the fronts in this many slices each

# Each run starts both fronts afresh (ss-local on $SOCKS_PORT, Sluice's mixed inbound on the next
# port), measures throughput through one then the other, warms both, then times connections through
# them in alternating slices, so load from elsewhere on the shared machine hits both alike.
ss_g=(); ss_c=(); sl_g=(); sl_c=()
for i in $(seq "$RUNS"); do
  start_ss_local; bench_start_sluice "$CONFIG"
  ss_g+=("$(ip netns exec "$CLIENT" python3 "$BENCH_DIR/peers.py" throughput $SOCKS_PORT "$SERVER_V4" 5201)")
  sl_g+=("$(ip netns exec "$CLIENT" python3 "$BENCH_DIR/peers.py" throughput $SLUICE_PORT "$SERVER_V4" 5201)")
  if [ "$WARMUP" -gt 0 ]; then ip netns exec "$CLIENT" python3 "$BENCH_DIR/peers.py" conns "$SOCKS_PORT,$SLUICE_PORT" "$SERVER_V4" 5202 "$WARMUP" 1 > /dev/null; fi
  read -r a s < <(ip netns exec "$CLIENT" python3 "$BENCH_DIR/peers.py" conns "$SOCKS_PORT,$SLUICE_PORT" "$SERVER_V4" 5202 "$CONNS" "$SLICES")
  ss_c+=("$a"); sl_c+=("$s")
  stop_ss_local; bench_stop_sluice
  echo "run $i: ss-local ${ss_g[-1]} Gbit/s ${ss_c[-1]} conn/s; sluice mixed ${sl_g[-1]} Gbit/s ${sl_c[-1]} conn/s"
done
a=$(median "${ss_g[@]}"); s=$(median "${sl_g[@]}"); ac=$(median "${ss_c[@]}"); sc=$(median "${sl_c[@]}")
echo "shadowsocks $METHOD, ${MIB} MiB per run, $CONNS connections in $SLICES alternating slices after $WARMUP untimed (median of $RUNS):"
echo "  throughput: ss-local $a Gbit/s, sluice $s Gbit/s, ratio $(ratio "$s" "$a")"
echo "  connections/s: ss-local $ac, sluice $sc, ratio $(ratio "$sc" "$ac")"
