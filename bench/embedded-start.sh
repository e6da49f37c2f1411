#!/usr/bin/env bash
# libsluice embedded in a C host and the NativeAOT `sluice`, against the targets of issue 15
# (idle RSS ≤ 30 MiB, start ≤ 150 ms, cold connections/s within 10 % of warm), wireguard-go as the anchor:
#   embedded:  tests/Sluice.E2E/Embedding/host.c linked to libsluice.so in the client namespace, a WireGuard
#              config (one peer: wireguard-go in the router namespace). sluice_start → return (ms), the first
#              start in the process and a second one after sluice_stop; the engine's log lines with their
#              offset from the sluice_start call (where the start-up time goes); VmRSS 2 s after start;
#              iperf3 through the tunnel; VmHWM after it.
#   exe:       exec → exit of `sluice version` (runtime start and exit only), of `sluice check -c` (plus
#              config load and validation), and exec of `sluice run` → "engine started" (plus the engine
#              start, TUN and routes), with the run's own log lines as offsets from exec.
#   cold/warm: connections/s through the exe's mixed inbound (direct lane) to a one-byte server: the first
#              CONNS connections after start (cold, no warm-up), then CONNS after WARM untimed ones (warm).
# Needs root, scripts/build-native.sh's artifacts, gcc, wireguard-go, iperf3. Takes the
# bench lock itself.   bench/embedded-start.sh [RUNS] [IPERF_SECONDS] [CONNS] [WARM]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
IPERF_SECONDS=${2:-5}
CONNS=${3:-500}
WARM=${4:-6000}
NATIVE_DIR="$ROOT/artifacts/native/linux-x64"
NATIVE_EXE=${SLUICE_BINARY:-$NATIVE_DIR/sluice}
[ -f "$NATIVE_DIR/libsluice.so" ] || { echo "no $NATIVE_DIR/libsluice.so: run scripts/build-native.sh first" >&2; exit 1; }
# Without the native executable its rows are left out (the embedded and JIT rows still run).
HAVE_EXE=0; [ -x "$NATIVE_EXE" ] && HAVE_EXE=1
bench_wireguard_router

now_ms() { date +%s%3N; }
rss() { awk -v k="$2:" '$1 == k {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
iperf_up() {
  for _ in $(seq 50); do ip netns exec "$CLIENT" ping -c 1 -W 1 10.66.0.1 > /dev/null 2>&1 && break; sleep 0.1; done
  ip netns exec "$CLIENT" iperf3 -c 10.66.0.1 -t "$IPERF_SECONDS" -J \
    | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6, 1))'
}
wg_config() { # $1: tun inbound extra fields
  cat <<JSON
{"log": {"level": "debug"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"]$1}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420,
   "peers": [{"address": "10.200.0.1", "port": 51820, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"]}]}],
 "outbounds": [{"type": "direct", "tag": "direct"}],
 "route": {"rules": [{"ip_cidr": "10.66.0.0/24", "outbound": "wg"}], "final": "direct"}}
JSON
}

# --- embedded: the C host ------------------------------------------------------------------------------
gcc -O2 -Wall -Werror -I "$ROOT/include" "$ROOT/tests/Sluice.E2E/Embedding/host.c" -o "$BENCH_DIR/host" \
  -L "$NATIVE_DIR" -lsluice -Wl,-rpath,"$NATIVE_DIR" -lpthread
wg_config ', "interface_name": "embed0"' > "$BENCH_DIR/embedded.json"
# host.c routes everything not marked 0x1234 into its TUN; its protect() marks the engine's sockets.
ask() { # ask COMMAND PREFIX: sends a command to the host, prints the first answer line starting with PREFIX
  echo "$1" >&"${HOST[1]}"
  local line
  while read -r line <&"${HOST[0]}"; do [[ "$line" == "$2"* ]] && { echo "$line"; return 0; }; done
  return 1
}
declare -a e_first e_second e_idle e_mbits e_peak
for i in $(seq "$RUNS"); do
  coproc HOST { ip netns exec "$CLIENT" "$BENCH_DIR/host" embed0 172.19.0.1/30 7100 1 0 nobody 2> "$BENCH_DIR/host.log"; }
  BENCH_PIDS+=("$HOST_PID")
  ask "" "ready" > /dev/null || true
  first=$(ask "start $BENCH_DIR/embedded.json protect" "start")
  pid=$(pgrep -n -f "$BENCH_DIR/host embed0")
  cp "$BENCH_DIR/host.log" "$BENCH_DIR/first-start.log"
  sleep 2; idle=$(rss "$pid" VmRSS)
  mbits=$(iperf_up); peak=$(rss "$pid" VmHWM)
  ask "stop" "stopped" > /dev/null
  second=$(ask "start $BENCH_DIR/embedded.json protect" "start")
  ask "stop" "stopped" > /dev/null
  echo "quit" >&"${HOST[1]}"; wait "$HOST_PID" 2>/dev/null || true
  e_first+=("$(awk '{print $3}' <<< "$first")"); e_second+=("$(awk '{print $3}' <<< "$second")")
  e_idle+=("$idle"); e_mbits+=("$mbits"); e_peak+=("$peak")
  echo "embedded run $i: $first (first in the process), $second (after stop), idle $idle MiB, iperf $mbits Mbit/s, peak $peak MiB"
  ip -n "$CLIENT" rule del pref 7100 2>/dev/null || true
done
echo "where the first sluice_start's time went (log lines, ms from the call):"
grep -E "\+[0-9.]+ ms" "$BENCH_DIR/first-start.log" | awk '{print "   ", $0}' | cut -c1-160 | head -25

# --- exe: start-up breakdown ------------------------------------------------------------------------------
wg_config ', "auto_route": true' > "$BENCH_DIR/exe.json"
declare -a x_version x_check x_run
for i in $(seq $(( RUNS * HAVE_EXE ))); do
  t=$(now_ms); "$NATIVE_EXE" version > /dev/null; x_version+=("$(( $(now_ms) - t ))")
  t=$(now_ms); "$NATIVE_EXE" check -c "$BENCH_DIR/exe.json" > /dev/null; x_check+=("$(( $(now_ms) - t ))")
  : > "$BENCH_DIR/run.log"
  t=$(now_ms)
  ip netns exec "$CLIENT" "$NATIVE_EXE" run -c "$BENCH_DIR/exe.json" > "$BENCH_DIR/run.log" 2>&1 &
  rpid=$!; BENCH_PIDS+=("$rpid")
  started=""
  for _ in $(seq 3000); do grep -q "engine started" "$BENCH_DIR/run.log" && { started=$(( $(now_ms) - t )); break; }; sleep 0.002; done
  kill "$rpid"; wait "$rpid" 2>/dev/null || true
  x_run+=("$started")
  echo "exe run $i: version ${x_version[-1]} ms, check ${x_check[-1]} ms, run → engine started ${started} ms"
  t0_clock=$(date -d "@$(( t / 1000 )).$(printf %03d $(( t % 1000 )))" +%H:%M:%S.%3N)
  [ "$i" = 1 ] && { echo "   exec at $t0_clock; the run's log:"; grep -E "^[0-9]{2}:" "$BENCH_DIR/run.log" | head -20 | cut -c1-150 | awk '{print "   ", $0}'; }
done

# --- cold vs warm connections/s through the exe's mixed inbound ------------------------------------------------
for ns in "$CLIENT" "$ROUTER"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"; done
ip netns exec "$ROUTER" python3 "$ROOT/bench/tools/conns.py" serve 5301 > "$BENCH_DIR/conns-server.log" 2>&1 &
BENCH_PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$BENCH_DIR/conns-server.log" && break; sleep 0.1; done
MIXED='{"log": {"level": "warn"}, "inbounds": [{"type": "mixed", "listen": "127.0.0.1", "listen_port": 2081}], "outbounds": [{"type": "direct", "tag": "direct"}]}'
declare -A cw
builds=()
[ "$HAVE_EXE" = 1 ] && builds+=(native)
JIT_DLL="$ROOT/src/Sluice.Cli/bin/Release/net10.0/sluice.dll"
[ -f "$JIT_DLL" ] && builds+=(jit)
for build in "${builds[@]}"; do
  for i in $(seq "$RUNS"); do
    if [ "$build" = native ]; then SLUICE=("$NATIVE_EXE"); else SLUICE=(dotnet "$JIT_DLL"); fi
    # Not bench_start_sluice: its 10 s are too short for the JIT build on a loaded machine.
    echo "$MIXED" > "$BENCH_DIR/config.json"
    ip netns exec "$CLIENT" "${SLUICE[@]}" run -c "$BENCH_DIR/config.json" > "$BENCH_DIR/sluice.log" 2>&1 &
    SLUICE_PID=$!; BENCH_PIDS+=("$SLUICE_PID")
    for _ in $(seq 600); do grep -q "engine started" "$BENCH_DIR/sluice.log" && break; sleep 0.1; done
    for _ in $(seq 50); do ip netns exec "$CLIENT" ss -Hltn "sport = :2081" | grep -q LISTEN && break; sleep 0.05; done
    read -r cold warm < <(ip netns exec "$CLIENT" python3 "$ROOT/bench/tools/conns.py" run 2081 "$SERVER_V4" 5301 "$CONNS" "$WARM")
    bench_stop_sluice
    cw[$build-cold]+="$cold "; cw[$build-warm]+="$warm "
    echo "$build run $i: cold $cold conn/s, warm $warm conn/s"
  done
done

# --- the anchor: wireguard-go as the client, same tunnel ------------------------------------------------
ip netns exec "$CLIENT" wireguard-go -f "$WGC" > /dev/null 2>&1 &
BENCH_PIDS+=($!); sleep 0.5
ip netns exec "$CLIENT" wg set "$WGC" private-key "$BENCH_DIR/client.key" peer "$router_pub" allowed-ips 10.66.0.0/24 endpoint 10.200.0.1:51820
ip -n "$CLIENT" addr add 10.66.0.2/24 dev "$WGC"; ip -n "$CLIENT" link set "$WGC" mtu 1420 up
wgpid=$(pgrep -n -f "wireguard-go -f $WGC")
sleep 2; wg_idle=$(rss "$wgpid" VmRSS); wg_mbits=$(iperf_up); wg_peak=$(rss "$wgpid" VmHWM)

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; median of $RUNS"
echo "| what | start (ms) | idle RSS (MiB) | iperf3 up (Mbit/s) | peak RSS (MiB) |"
echo "|---|---|---|---|---|"
echo "| libsluice in host.c, first sluice_start in the process | $(median "${e_first[@]}") | $(median "${e_idle[@]}") | $(median "${e_mbits[@]}") | $(median "${e_peak[@]}") |"
echo "| libsluice, sluice_start again after sluice_stop | $(median "${e_second[@]}") | | | |"
if [ "$HAVE_EXE" = 1 ]; then
  echo "| native exe: exec → \`sluice version\` exits | $(median "${x_version[@]}") | | | |"
  echo "| native exe: exec → \`sluice check\` exits | $(median "${x_check[@]}") | | | |"
  echo "| native exe: exec → \"engine started\" | $(median "${x_run[@]}") | | | |"
fi
echo "| wireguard-go | – | $wg_idle | $wg_mbits | $wg_peak |"
echo
echo "| build | cold conn/s (first $CONNS) | warm conn/s ($CONNS after $WARM) | cold / warm |"
echo "|---|---|---|---|"
for build in "${builds[@]}"; do
  c=$(median ${cw[$build-cold]}); w=$(median ${cw[$build-warm]})
  echo "| $build | $c | $w | $(ratio "$c" "$w") |"
done
