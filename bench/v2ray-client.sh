#!/usr/bin/env bash
# Sluice vs v2ray 4.34 as the CLIENT of the same VLESS+TLS and Trojan(+TLS) servers (v2ray in the router
# namespace): TCP throughput and connections/s, (a) through a SOCKS5 front — v2ray's socks inbound vs
# Sluice's `mixed` inbound — and (b) through Sluice's TUN (an app that knows nothing of proxies) against
# the same v2ray socks figure (v2ray has no TUN). One Sluice engine carries both: the TUN takes the app's
# connections to the sink, the mixed inbounds take the SOCKS ones; v2ray's own connections to its server
# are excluded from the TUN (route_exclude_address), so v2ray's path has no Sluice in it.
# Same run, alternating per measurement, median of RUNS (default 3), ratios printed. Each throughput
# measurement also reads the client's CPU time (user+system of the v2ray client or the Sluice process, from
# /proc) and prints CPU seconds per GiB: on a shared machine that says where the time goes when Gbit/s
# only says how much of the machine was left.
# Needs root, v2ray, openssl and a Release build (scripts/install.sh).
# The connections/s part is made by `netbench fronts` (bench/tools/netbench.c; C, blocking, one thread per connector)
# against netbench's echo server beside the sink (port 5300): until branch conn10 it was proxy-peers.py's Python
# client and one-thread-per-connection server, whose own CPU on 2 cores set the rate of every front alike (parity).
# The run line also prints each front's p50/p99 µs per connection and the C client's own CPU µs per connection.
# CONCURRENCY=N: the timed connections are made by N connectors at once through each front (default 1: one at a time,
# where the rate is one connection's latency, mostly what the fronts share). V2RAY_TICKETS=1 (v2ray-testbed.sh):
# v2ray's server issues session tickets and its client resumes (off by default in v2ray 4.34).
#   [WARMUP=3000] [SLICES=5] [CONCURRENCY=1] [V2RAY_TICKETS=1] [BENCH_KEEP=1] bench/v2ray-client.sh [RUNS] [MIB_PER_RUN] [CONNECTIONS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
MIB=${2:-1024}
CONNS=${3:-500}
WARMUP=${WARMUP:-3000}
SLICES=${SLICES:-5}
CONCURRENCY=${CONCURRENCY:-1}
# Whole slices of whole rounds, so the CPU per connection divides by the connections made.
step=$(( SLICES * CONCURRENCY )); CONNS=$(( (CONNS + step - 1) / step * step ))
source "$(dirname "$0")/v2ray-testbed.sh"
bench_netbench; bench_netbench_server "$ROUTER" 5300
fronts() { ip netns exec "$CLIENT" "$NETBENCH" fronts "$@"; }

declare -A G C U K
for proto in vless trojan; do
  if [ $proto = vless ]; then v2=$V2_VLESS; sl=$SL_VLESS; else v2=$V2_TROJAN; sl=$SL_TROJAN; fi
  for i in $(seq "$RUNS"); do
    start_v2ray_client; bench_start_sluice "${CONFIG/LANE/$proto}"
    # Throughput: the three fronts one after another, the order rotated per run.
    order=(v2 sl tun); for _ in $(seq $(( (i - 1) % 3 ))); do order=("${order[@]:1}" "${order[0]}"); done
    for f in "${order[@]}"; do
      case $f in v2) port=$v2; pid=$V2_PID;; sl) port=$sl; pid=$SLUICE_PID;; tun) port=$TUN; pid=$SLUICE_PID;; esac
      before=$(cpu_ticks "$pid")
      G[$proto,$f]+="$(peers throughput $port "$SERVER_V4" 5201) "
      U[$proto,$f]+="$(per_gib $(( $(cpu_ticks "$pid") - before ))) "
    done
    if [ "$WARMUP" -gt 0 ]; then fronts "$v2,$sl,$TUN" "$SERVER_V4" 5300 "$WARMUP" 1 > /dev/null; fi
    v2_before=$(cpu_ticks "$V2_PID"); sl_before=$(cpu_ticks "$SLUICE_PID")
    rates=$(fronts "$v2,$sl,$TUN" "$SERVER_V4" 5300 "$CONNS" "$SLICES" "$CONCURRENCY") # a connection that hangs ends the script here
    { read -r a b c; read -r p50a p99a p50b p99b p50c p99c app_us; } <<< "$rates"
    # CPU ms per connection: v2ray's over its own; Sluice's over the mixed and TUN ones together (one process carries both).
    K[$proto,v2]+="$(awk -v t=$(( $(cpu_ticks "$V2_PID") - v2_before )) -v n="$CONNS" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t * 1000 / hz / n}') "
    K[$proto,sl]+="$(awk -v t=$(( $(cpu_ticks "$SLUICE_PID") - sl_before )) -v n="$CONNS" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t * 1000 / hz / (2 * n)}') "
    C[$proto,v2]+="$a "; C[$proto,sl]+="$b "; C[$proto,tun]+="$c "
    stop_v2ray_client; bench_stop_sluice
    echo "$proto run $i: Gbit/s v2ray $(echo ${G[$proto,v2]} | awk '{print $NF}') mixed $(echo ${G[$proto,sl]} | awk '{print $NF}') tun $(echo ${G[$proto,tun]} | awk '{print $NF}');" \
      "conn/s v2ray $a mixed $b tun $c; CPU s/GiB v2ray $(echo ${U[$proto,v2]} | awk '{print $NF}') mixed $(echo ${U[$proto,sl]} | awk '{print $NF}') tun $(echo ${U[$proto,tun]} | awk '{print $NF}');" \
      "p50/p99 µs v2ray $p50a/$p99a mixed $p50b/$p99b tun $p50c/$p99c; CPU ms/conn v2ray $(echo ${K[$proto,v2]} | awk '{print $NF}') sluice $(echo ${K[$proto,sl]} | awk '{print $NF}') app $app_us µs"
  done
done
echo "v2ray 4.34 client (socks inbound) vs Sluice, ${MIB} MiB per throughput run, $CONNS connections in $SLICES alternating slices after $WARMUP untimed, $CONCURRENCY at once, tickets $([ -n "${V2RAY_TICKETS:-}" ] && echo on || echo "off (v2ray's default)"), median of $RUNS:"
for proto in vless trojan; do
  # shellcheck disable=SC2086
  gv=$(median ${G[$proto,v2]}); gs=$(median ${G[$proto,sl]}); gt=$(median ${G[$proto,tun]})
  # shellcheck disable=SC2086
  cv=$(median ${C[$proto,v2]}); cs=$(median ${C[$proto,sl]}); ct=$(median ${C[$proto,tun]})
  echo "  $proto+TLS throughput: v2ray $gv Gbit/s, sluice mixed $gs ($(ratio "$gs" "$gv")x), sluice TUN $gt ($(ratio "$gt" "$gv")x)"
  # shellcheck disable=SC2086
  echo "  $proto+TLS client CPU per GiB: v2ray $(median ${U[$proto,v2]}) s, sluice mixed $(median ${U[$proto,sl]}) s, sluice TUN $(median ${U[$proto,tun]}) s"
  # shellcheck disable=SC2086
  echo "  $proto+TLS client CPU per connection: v2ray $(median ${K[$proto,v2]}) ms, sluice (mixed and TUN) $(median ${K[$proto,sl]}) ms"
  echo "  $proto+TLS connections/s: v2ray $cv, sluice mixed $cs ($(ratio "$cs" "$cv")x), sluice TUN $ct ($(ratio "$ct" "$cv")x)"
done
