#!/usr/bin/env bash
# What one proxied connection costs each client, Sluice vs v2ray 4.34, on the testbed of bench/v2ray-client.sh
# (the same VLESS+TLS / Trojan+TLS servers). Per front (v2ray's socks inbound, Sluice's mixed inbound, Sluice's
# TUN), after WARMUP untimed connections, CONNECTIONS of them (connect, one byte each way, close), one after
# another, counted three ways (each a separate pass over CONNECTIONS, so one tool does not inflate another's):
# 1. perf stat on the client process (v2ray's client, or the engine) and on the v2ray server: CPU ms, context
#    switches, syscalls and wake-ups its threads made (sched_wakeup fires in the waker), per connection;
# 2. context switches per thread name (from /proc/PID/task/*/status), and the wake-ups the process's threads
#    made split into hand-offs (the woken task is one of its own threads) and the rest (perf record);
# 3. strace -f -c: syscalls by name per connection (strace slows the process: counts only, no times);
# 4. a capture in the client namespace (dumpcap, headers only): each hop's median µs from the packets' times
#    (bench/tools/conn-hops.py: SOCKS, TCP connect, ClientHello, the server's flight, Finished, request, answer);
# and one connection under strace -f -tt -T (the timeline of the hops by thread, kept in $OUT).
# Needs root, perf, strace, tshark (dumpcap), v2ray, openssl and a Release build.
#   [WARMUP=500] [OUT=dir] [PROTO=vless|trojan] [FRONTS="v2 sl tun"] [NO_CAPTURE=1] [NO_STRACE=1] [PROFILE=1] bench/conn-cost.sh [CONNECTIONS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CONNS=${1:-200}
WARMUP=${WARMUP:-500}
PROTO=${PROTO:-vless}
FRONTS=${FRONTS:-v2 sl tun}
OUT=${OUT:-$(mktemp -d /tmp/conn-cost.XXXX)}
MIB=1
source "$(dirname "$0")/v2ray-testbed.sh"
mkdir -p "$OUT"

if [ "$PROTO" = vless ]; then v2=$V2_VLESS; sl=$SL_VLESS; else v2=$V2_TROJAN; sl=$SL_TROJAN; fi
start_v2ray_client; bench_start_sluice "${CONFIG/LANE/$PROTO}"
threads_of() { ls "/proc/$1/task" | paste -sd, -; }
# switches_by_name PID: "name switches" per thread name (threads of one name summed).
switches_by_name() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "$(tr ' ' _ < "$t/comm" 2>/dev/null) $(awk '/ctxt_switches/ {s += $2} END {print s+0}' "$t/status" 2>/dev/null)"
  done | awk '{s[$1] += $2} END {for (n in s) print n, s[n]}' | sort
}

for f in $FRONTS; do
  case $f in v2) port=$v2; pid=$V2_PID;; sl) port=$sl; pid=$SLUICE_PID;; tun) port=$TUN; pid=$SLUICE_PID;; esac
  peers many "$port" "$SERVER_V4" 5202 "$WARMUP"
  echo "== $PROTO front $f (client pid $pid), $CONNS connections, load $(cut -d' ' -f1-3 /proc/loadavg)"

  # 1. perf stat: the client and the server, the same window.
  events=task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter,sched:sched_wakeup
  perf stat -x, -e "$events" -p "$pid" -o "$OUT/$f-client.stat" & pc=$!
  perf stat -x, -e "$events" -p "$V2_SERVER_PID" -o "$OUT/$f-server.stat" & ps=$!
  sleep 0.3
  start=$(date +%s%N)
  peers many "$port" "$SERVER_V4" 5202 "$CONNS"
  elapsed=$(( ($(date +%s%N) - start) / 1000 ))
  kill -INT "$pc" "$ps"; wait "$pc" "$ps" 2>/dev/null || true
  for who in client server; do
    awk -F, -v n="$CONNS" -v who="$who" '
      $3 == "task-clock" {cpu = $1} $3 == "context-switches" {cs = $1} $3 == "cpu-migrations" {mig = $1}
      $3 == "raw_syscalls:sys_enter" {sc = $1} $3 == "sched:sched_wakeup" {wk = $1}
      END {printf "  %s: CPU %.3f ms, %.1f context switches, %.1f migrations, %.1f syscalls, %.1f wake-ups made, per connection\n", who, cpu / n, cs / n, mig / n, sc / n, wk / n}' \
      "$OUT/$f-$who.stat"
  done
  echo "  wall time $(awk -v e="$elapsed" -v n="$CONNS" 'BEGIN {printf "%.0f µs per connection (%.0f conn/s)", e / n, n * 1e6 / e}')"

  # 2. switches per thread name, and who the process's threads woke.
  switches_by_name "$pid" > "$OUT/$f-threads.before"
  perf record -q -e sched:sched_wakeup -p "$pid" -o "$OUT/$f-wakeups.data" 2>/dev/null & pr=$!
  sleep 0.3
  peers many "$port" "$SERVER_V4" 5202 "$CONNS"
  kill -INT "$pr"; wait "$pr" 2>/dev/null || true
  switches_by_name "$pid" > "$OUT/$f-threads.after"
  echo "  context switches per connection by thread name: $(join -a2 -e0 -o 0,1.2,2.2 "$OUT/$f-threads.before" "$OUT/$f-threads.after" \
    | awk -v n="$CONNS" '$3 - $2 > 0 {printf "%s %.1f\n", $1, ($3 - $2) / n}' | sort -k2 -rn | paste -sd, - | sed 's/,/, /g')"
  tids=$(threads_of "$pid")
  perf script -i "$OUT/$f-wakeups.data" -F tid,trace 2>/dev/null > "$OUT/$f-wakeups.txt" || true
  awk -v n="$CONNS" -v tids="$tids" '
    BEGIN {split(tids, t, ","); for (i in t) own[t[i]] = 1}
    {for (i = 2; i <= NF; i++) if ($i ~ /^pid=/) {p = substr($i, 5); if (p in own) hand++; else other++}}
    END {printf "  wake-ups made per connection: %.1f to its own threads (hand-offs), %.1f to other tasks\n", hand / n, other / n}' "$OUT/$f-wakeups.txt"

  # 3. syscalls by name.
  if [ -z "${NO_STRACE:-}" ]; then
  strace -qq -f -c -o "$OUT/$f-strace-c.txt" -p "$pid" & st=$!
  sleep 0.5
  peers many "$port" "$SERVER_V4" 5202 "$CONNS"
  kill -INT "$st"; wait "$st" 2>/dev/null || true
  echo "  syscalls per connection by name: $(awk -v n="$CONNS" '$NF != "total" && $1 ~ /^[0-9.]+$/ {c = (NF == 6 ? $4 : $4); printf "%s %.1f\n", $NF, c / n}' "$OUT/$f-strace-c.txt" \
    | sort -k2 -rn | awk '$2 >= 0.05' | head -14 | paste -sd, - | sed 's/,/, /g')"
  fi

  # 4. hops: a capture in the client namespace (headers only), each hop's median from the packets' times.
  if [ -z "${NO_CAPTURE:-}" ]; then
    if [ "$f" = tun ]; then app=5202; else app=$port; fi
    ip netns exec "$CLIENT" dumpcap -q -i any -s 96 -w "$OUT/$f.pcap" 2>/dev/null & dc=$!
    sleep 1
    peers many "$port" "$SERVER_V4" 5202 "$CONNS"
    sleep 0.3; kill -INT "$dc"; wait "$dc" 2>/dev/null || true
    tshark -r "$OUT/$f.pcap" -T fields -e frame.time_epoch -e sll.pkttype -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport \
      -e tcp.flags -e tcp.len 2>/dev/null > "$OUT/$f.fields"
    python3 "$ROOT/bench/tools/conn-hops.py" "$OUT/$f.fields" "$app" "$([ "$PROTO" = vless ] && echo $VLESS_PORT || echo $TROJAN_PORT)"
  fi

  # 5. PROFILE=1: where the client's CPU goes (perf record -g; the native build's symbols come from sluice.dbg).
  if [ -n "${PROFILE:-}" ]; then
    perf record -q -g -F 4999 -p "$pid" -o "$OUT/$f-cpu.data" 2>/dev/null & pp=$!
    sleep 0.3
    peers many "$port" "$SERVER_V4" 5202 "$CONNS"
    kill -INT "$pp"; wait "$pp" 2>/dev/null || true
    perf report -i "$OUT/$f-cpu.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40 > "$OUT/$f-cpu.txt" || true
    echo "  CPU profile: $OUT/$f-cpu.txt"
  fi

  # The timeline of one connection.
  [ -n "${NO_STRACE:-}" ] && continue
  peers many "$port" "$SERVER_V4" 5202 20
  strace -qq -f -tt -T -o "$OUT/$f-one.trace" -p "$pid" & st=$!
  sleep 0.5
  peers many "$port" "$SERVER_V4" 5202 1
  sleep 0.2
  kill -INT "$st"; wait "$st" 2>/dev/null || true
  echo "  one connection: $(grep -vc -e 'resumed>' -e '+++' -e '---' "$OUT/$f-one.trace") syscalls on $(awk '{print $1}' "$OUT/$f-one.trace" | sort -u | wc -l) threads ($OUT/$f-one.trace)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); files in $OUT"
