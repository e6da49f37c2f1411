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

# thread_counters PID: one line per thread, "tid switches cpu-ns".
thread_counters() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s+0}' "$t/status" 2>/dev/null || echo 0) $(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0)"
  done
}

# measure PID: one ping through the tunnel, 3 s to settle, then SECONDS of nothing; prints
# "switches/s cpu% threads rss-MiB threads-ended". Counted per thread, so a thread that ends inside the
# window (a JIT's idle pool workers retire after ~20 s) does not subtract its whole past from the total (as a
# sum over the threads alive at each end would); what an ended thread did between the first look and its end
# is not counted (a few switches: its timed-out wait and its exit).
measure() {
  for _ in $(seq 50); do ip netns exec "$CLIENT" ping -c 1 -W 1 10.66.0.1 > /dev/null 2>&1 && break; sleep 0.1; done
  sleep 3
  local before; before=$(thread_counters "$1")
  sleep "$SECONDS_PER_RUN"
  local after; after=$(thread_counters "$1")
  read -r _ _ th rss _ < <(proc_counters "$1")
  awk -v s="$SECONDS_PER_RUN" -v th="$th" -v rss="$rss" '
    NR == FNR {c0[$1] = $2; n0[$1] = $3; next}
    {c += $2 - ($1 in c0 ? c0[$1] : 0); n += $3 - ($1 in n0 ? n0[$1] : 0); alive[$1] = 1}
    END {for (t in c0) if (!(t in alive)) ended++; printf "%.1f %.3f %d %.1f %d\n", c / s, n / s / 1e7, th, rss / 1024, ended + 0}' \
    <(echo "$before") <(echo "$after")
}

a_sw=(); a_cpu=(); s_sw=(); s_cpu=()
for i in $(seq "$RUNS"); do
  start_wg_client
  read -r sw cpu ath arss aended < <(measure "$WGC_PID"); a_sw+=("$sw"); a_cpu+=("$cpu")
  stop_wg_client
  bench_start_sluice "$CONFIG"
  read -r sw cpu sth srss sended < <(measure "$SLUICE_PID"); s_sw+=("$sw"); s_cpu+=("$cpu")
  [ "$i" = "$RUNS" ] && busiest=$(thread_wakeups "$SLUICE_PID" 10)
  bench_stop_sluice
  echo "run $i: wireguard-go ${a_sw[-1]} switches/s ${a_cpu[-1]} % CPU $ath threads ($aended ended) $arss MiB; sluice ${s_sw[-1]} switches/s ${s_cpu[-1]} % CPU $sth threads ($sended ended) $srss MiB"
done
as=$(median "${a_sw[@]}"); ac=$(median "${a_cpu[@]}"); ss=$(median "${s_sw[@]}"); sc=$(median "${s_cpu[@]}")
echo "idle WireGuard client over ${SECONDS_PER_RUN} s (median of $RUNS):"
echo "  context switches/s: wireguard-go $as, sluice $ss, ratio $(ratio "$ss" "$as") (target ≤ 5: $(awk -v s="$ss" 'BEGIN {print (s <= 5 ? "met" : "unmet")}'))"
echo "  CPU % of a core:    wireguard-go $ac, sluice $sc, ratio $(ratio "$sc" "$ac") (target ≤ 0.1: $(awk -v s="$sc" 'BEGIN {print (s <= 0.1 ? "met" : "unmet")}'))"
echo "  threads: wireguard-go $ath, sluice $sth; RSS MiB: wireguard-go $arss, sluice $srss"
echo "  sluice switches per thread over 10 s: $busiest"
