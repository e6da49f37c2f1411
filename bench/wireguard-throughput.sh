#!/usr/bin/env bash
# WireGuard lane TCP throughput: iperf3 through a WireGuard tunnel between the client and router
# namespaces, both directions, median of N runs (default 3), side by side in one run:
#   anchor:        wireguard-go (client) <-> wireguard-go (router, UDP 51820)
#   sluice-wggo:   Sluice's WireGuard lane (client) <-> wireguard-go (router)
#   sluice-sluice: Sluice (client) <-> Sluice (router, UDP 51821, accept_inbound: the router's
#                  iperf3 is reached at its TUN address)
# The clients share one key pair and the routers another, so no peer changes between phases.
# wireguard-go is whatever the machine has (Debian's v0.0.20220316 here: one syscall per packet on the
# TUN and on UDP). Sluice batches both: TUN offloads (IFF_VNET_HDR, TSO4/6: 64 KiB TCP super-packets
# cut up on read, merged on write) and UDP GSO/GRO with sendmmsg/recvmmsg on the tunnel socket, so two
# Sluice ends move ~45 segments per syscall; against wireguard-go only the Sluice side batches.
# Needs root and a Release build (scripts/install.sh).   bench/wireguard-throughput.sh [RUNS] [SECONDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-5}
bench_wireguard_router

# The router's Sluice: tunnel address 10.66.0.1, accepts the client's flows and hands them to its host.
ROUTER_CONFIG=$(cat <<JSON
{"log": {"level": "info"},
 "inbounds": [{"type": "tun", "interface_name": "sluicer0", "address": ["172.19.0.1/30"]}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.1/32"], "private_key": "$router_key", "mtu": 1420,
   "listen_port": 51821, "accept_inbound": true,
   "peers": [{"public_key": "$client_pub", "allowed_ips": ["10.66.0.2/32"]}]}],
 "route": {"final": "direct"}}
JSON
)
start_router_sluice() {
  echo "$ROUTER_CONFIG" > "$BENCH_DIR/router.json"
  ip netns exec "$ROUTER" "${SLUICE[@]}" run -c "$BENCH_DIR/router.json" > "$BENCH_DIR/router-sluice.log" 2>&1 &
  ROUTER_SLUICE_PID=$!; BENCH_PIDS+=("$ROUTER_SLUICE_PID")
  for _ in $(seq 100); do grep -q "engine started" "$BENCH_DIR/router-sluice.log" && break; sleep 0.1; done
  # Answers to the tunnel's client go back into the TUN (no auto_route on the router).
  ip -n "$ROUTER" route replace 10.66.0.2/32 dev sluicer0
}
stop_router_sluice() {
  kill "$ROUTER_SLUICE_PID" 2>/dev/null; wait "$ROUTER_SLUICE_PID" 2>/dev/null || true
  ip -n "$ROUTER" route replace 10.66.0.0/24 dev "$WGR" 2>/dev/null || true
}

iperf() {  # $1: "" (client → router) or "-R" (router → client); prints Mbit/s received
  # The tunnel answers first (a fresh handshake under load can take a moment), and the server listens.
  for _ in $(seq 50); do ip netns exec "$CLIENT" ping -c 1 -W 1 10.66.0.1 > /dev/null 2>&1 && break; sleep 0.1; done
  for _ in $(seq 50); do ip netns exec "$ROUTER" ss -Hltn 'sport = :5201' | grep -q LISTEN && break; sleep 0.1; done
  ip netns exec "$CLIENT" iperf3 -c 10.66.0.1 -t "$SECONDS_PER_RUN" $1 -J \
    | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6, 1))'
}


client_config() {  # $1: the router's WireGuard port
  cat <<JSON
{"log": {"level": "info"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420,
   "peers": [{"address": "10.200.0.1", "port": $1, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"]}]}],
 "route": {"rules": [{"ip_cidr": "10.66.0.0/24", "outbound": "wg"}], "final": "direct"}}
JSON
}

anchor_up=(); anchor_down=(); sluice_up=(); sluice_down=(); both_up=(); both_down=()
for i in $(seq "$RUNS"); do
  start_wg_client
  anchor_up+=("$(iperf "")"); anchor_down+=("$(iperf -R)")
  stop_wg_client
  bench_start_sluice "$(client_config 51820)"
  sluice_up+=("$(iperf "")"); sluice_down+=("$(iperf -R)")
  bench_stop_sluice
  start_router_sluice
  bench_start_sluice "$(client_config 51821)"
  both_up+=("$(iperf "")"); both_down+=("$(iperf -R)")
  bench_stop_sluice
  stop_router_sluice
  echo "run $i (Mbit/s up/down): wireguard-go↔wireguard-go ${anchor_up[-1]}/${anchor_down[-1]}," \
       "sluice↔wireguard-go ${sluice_up[-1]}/${sluice_down[-1]}, sluice↔sluice ${both_up[-1]}/${both_down[-1]}"
done
au=$(median "${anchor_up[@]}"); ad=$(median "${anchor_down[@]}")
su=$(median "${sluice_up[@]}"); sd=$(median "${sluice_down[@]}")
bu=$(median "${both_up[@]}"); bd=$(median "${both_down[@]}")
echo "client→router: wireguard-go↔wireguard-go $au, sluice↔wireguard-go $su (ratio $(ratio "$su" "$au")), sluice↔sluice $bu Mbit/s (ratio $(ratio "$bu" "$au"))"
echo "router→client: wireguard-go↔wireguard-go $ad, sluice↔wireguard-go $sd (ratio $(ratio "$sd" "$ad")), sluice↔sluice $bd Mbit/s (ratio $(ratio "$bd" "$ad"))  (median of $RUNS)"
