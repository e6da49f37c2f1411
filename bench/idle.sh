#!/usr/bin/env bash
# Idle cost: a WireGuard client configured with its session up (one ping) and then no traffic, for
# SECONDS (default 60): context switches per second over all threads (voluntary + nonvoluntary, from
# /proc/PID/task/*/status), CPU % of one core (from each thread's schedstat), thread count and RSS.
# anchor: wireguard-go as the client; Sluice: its WireGuard lane behind the TUN (auto_route), both
# against wireguard-go in the router namespace; alternating, median of RUNS (default 3), ratios printed.
# Also prints, for the last Sluice run, which threads woke (context switches per thread over 10 s).
# Targets (issue #19): ≤ 5 switches/s and ≤ 0.1 % CPU.   bench/idle.sh [RUNS] [SECONDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-60}
bench_wireguard_router

CONFIG=$(cat <<JSON
{"log": {"level": "info"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420,
   "peers": [{"address": "10.200.0.1", "port": 51820, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"]}]}],
 "route": {"rules": [{"ip_cidr": "10.66.0.0/24", "outbound": "wg"}], "final": "direct"}}
JSON
)

# measure PID: one ping through the tunnel, 3 s to settle, then SECONDS of nothing; prints
# "switches/s cpu% threads rss-MiB".
measure() {
  for _ in $(seq 50); do ip netns exec "$CLIENT" ping -c 1 -W 1 10.66.0.1 > /dev/null 2>&1 && break; sleep 0.1; done
  sleep 3
  read -r c0 n0 _ _ _ < <(proc_counters "$1")
  sleep "$SECONDS_PER_RUN"
  read -r c1 n1 th rss _ < <(proc_counters "$1")
  awk -v c=$((c1 - c0)) -v n=$((n1 - n0)) -v s="$SECONDS_PER_RUN" -v th="$th" -v rss="$rss" \
    'BEGIN {printf "%.1f %.3f %d %.1f\n", c / s, n / s / 1e7, th, rss / 1024}'
}

a_sw=(); a_cpu=(); s_sw=(); s_cpu=()
for i in $(seq "$RUNS"); do
  start_wg_client
  read -r sw cpu ath arss < <(measure "$WGC_PID"); a_sw+=("$sw"); a_cpu+=("$cpu")
  stop_wg_client
  bench_start_sluice "$CONFIG"
  read -r sw cpu sth srss < <(measure "$SLUICE_PID"); s_sw+=("$sw"); s_cpu+=("$cpu")
  [ "$i" = "$RUNS" ] && busiest=$(thread_wakeups "$SLUICE_PID" 10)
  bench_stop_sluice
  echo "run $i: wireguard-go ${a_sw[-1]} switches/s ${a_cpu[-1]} % CPU $ath threads $arss MiB; sluice ${s_sw[-1]} switches/s ${s_cpu[-1]} % CPU $sth threads $srss MiB"
done
as=$(median "${a_sw[@]}"); ac=$(median "${a_cpu[@]}"); ss=$(median "${s_sw[@]}"); sc=$(median "${s_cpu[@]}")
echo "idle WireGuard client over ${SECONDS_PER_RUN} s (median of $RUNS):"
echo "  context switches/s: wireguard-go $as, sluice $ss, ratio $(ratio "$ss" "$as") (target ≤ 5: $(awk -v s="$ss" 'BEGIN {print (s <= 5 ? "met" : "unmet")}'))"
echo "  CPU % of a core:    wireguard-go $ac, sluice $sc, ratio $(ratio "$sc" "$ac") (target ≤ 0.1: $(awk -v s="$sc" 'BEGIN {print (s <= 0.1 ? "met" : "unmet")}'))"
echo "  threads: wireguard-go $ath, sluice $sth; RSS MiB: wireguard-go $arss, sluice $srss"
echo "  sluice switches per thread over 10 s: $busiest"
