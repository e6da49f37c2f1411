# Shared pieces of the macro benchmarks: a two-namespace testbed (client ↔ router over veth, the
# same addresses as the test suite's NamespaceTestbed), the sluice command, and median/ratio maths.
# Everything created here is removed by bench_cleanup (installed as an EXIT trap).

# One benchmark at a time on this machine: each script takes the lock (a script run by another, e.g. from
# bench/before-after.sh, inherits it). /run is root's, so the lock file's name cannot be planted by others.
if [ -z "${SLUICE_BENCH_LOCKED:-}" ]; then
  exec 9>/run/sluice-bench.lock
  flock 9
  export SLUICE_BENCH_LOCKED=1
fi

BENCH_ID="sluice-bench-$$"
CLIENT="$BENCH_ID-c"
ROUTER="$BENCH_ID-r"
SERVER_V4=203.0.113.10
BENCH_DIR=$(mktemp -d "/tmp/$BENCH_ID.XXXX")
BENCH_PIDS=()
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# $SLUICE_BINARY (e.g. artifacts/native/linux-x64/sluice from scripts/build-native.sh) replaces the JIT build.
if [ -n "${SLUICE_BINARY:-}" ]; then SLUICE=("$SLUICE_BINARY"); else SLUICE=(dotnet "$ROOT/src/Sluice.Cli/bin/Release/net10.0/sluice.dll"); fi

bench_cleanup() {
  set +e  # a process already gone must not stop the cleanup (errexit also applies inside traps)
  for pid in "${BENCH_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${BENCH_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  ip netns del "$CLIENT" 2>/dev/null
  ip netns del "$ROUTER" 2>/dev/null
  # BENCH_KEEP=1 keeps the directory (the engine's and the peers' logs) for a run that failed or hung.
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $BENCH_DIR" >&2; else rm -rf "$BENCH_DIR"; fi
}
trap bench_cleanup EXIT

bench_testbed() {
  ip netns add "$CLIENT"
  ip netns add "$ROUTER"
  ip link add eth0 netns "$CLIENT" type veth peer name eth0 netns "$ROUTER"
  local ns
  for ns in "$CLIENT" "$ROUTER"; do ip -n "$ns" link set lo up; ip -n "$ns" link set eth0 up; done
  ip -n "$CLIENT" addr add 10.200.0.2/24 dev eth0
  ip -n "$ROUTER" addr add 10.200.0.1/24 dev eth0
  ip -n "$ROUTER" addr add "$SERVER_V4/32" dev lo
  ip -n "$CLIENT" route add default via 10.200.0.1
}

# bench_start_sluice CONFIG_JSON: runs sluice in the client namespace, waits until it serves.
bench_start_sluice() {
  echo "$1" > "$BENCH_DIR/config.json"
  ip netns exec "$CLIENT" "${SLUICE[@]}" run -c "$BENCH_DIR/config.json" > "$BENCH_DIR/sluice.log" 2>&1 &
  SLUICE_PID=$!
  BENCH_PIDS+=("$SLUICE_PID")
  for _ in $(seq 100); do grep -q "engine started" "$BENCH_DIR/sluice.log" && return 0; sleep 0.1; done
  echo "sluice did not start:" >&2; cat "$BENCH_DIR/sluice.log" >&2; return 1
}

# wait_flows_closed PID BASELINE: waits (at most 30 s) until the process holds no more than BASELINE + 8 open files,
# i.e. the last point's flows have closed (their buffered bytes drained), then 2 s more for the memory trim that follows
# a burst's end; so a peak read afterwards covers the close wave and that trim too.
wait_flows_closed() {
  local i
  for i in $(seq 300); do [ "$(ls /proc/"$1"/fd 2>/dev/null | wc -l)" -le $(( $2 + 8 )) ] && break; sleep 0.1; done
  sleep 2
}

bench_stop_sluice() {
  kill "$SLUICE_PID" 2>/dev/null; wait "$SLUICE_PID" 2>/dev/null || true
}

# bench_wireguard_router: the testbed, two key pairs (client_key/pub, router_key/pub, also in BENCH_DIR),
# wireguard-go in the router namespace (device $WGR, UDP 51820, tunnel 10.66.0.1/24, peer 10.66.0.2) and
# an iperf3 server there. $WGC names the client device for scripts that run wireguard-go as the client.
bench_wireguard_router() {
  export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
  bench_testbed
  client_key=$(wg genkey); client_pub=$(echo "$client_key" | wg pubkey)
  router_key=$(wg genkey); router_pub=$(echo "$router_key" | wg pubkey)
  echo "$client_key" > "$BENCH_DIR/client.key"; echo "$router_key" > "$BENCH_DIR/router.key"
  WGR="wgbr$$"; WGC="wgbc$$"
  ip netns exec "$ROUTER" wireguard-go -f "$WGR" > /dev/null 2>&1 &
  BENCH_PIDS+=($!)
  wait_wg_device "$ROUTER" "$WGR"
  ip netns exec "$ROUTER" wg set "$WGR" private-key "$BENCH_DIR/router.key" listen-port 51820 peer "$client_pub" allowed-ips 10.66.0.2/32
  ip -n "$ROUTER" addr add 10.66.0.1/24 dev "$WGR"
  ip -n "$ROUTER" link set "$WGR" mtu 1420 up
  ip netns exec "$ROUTER" iperf3 -s > /dev/null 2>&1 &
  BENCH_PIDS+=($!)
}

# wait_wg_device NS DEV: until wireguard-go's device answers `wg show` (a loaded machine can take seconds).
wait_wg_device() {
  for _ in $(seq 100); do ip netns exec "$1" wg show "$2" > /dev/null 2>&1 && return 0; sleep 0.1; done
  echo "wireguard-go device $2 did not come up" >&2; return 1
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

# proc_counters PID: "context-switches cpu-ns threads rss-kib peak-rss-kib" summed over all the process's
# threads (voluntary + nonvoluntary switches from each task's status, CPU from each task's schedstat).
proc_counters() {
  local pid=$1 ctxt=0 cpu=0 threads=0 t v
  for t in /proc/"$pid"/task/*; do
    v=$(awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s+0}' "$t/status" 2>/dev/null) || continue
    ctxt=$((ctxt + v)); cpu=$((cpu + $(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0))); threads=$((threads + 1))
  done
  echo "$ctxt $cpu $threads $(awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {print r+0, h+0}' /proc/"$pid"/status)"
}

# peak_rss_mib PID: the process's peak resident set so far (VmHWM: the kernel's own high-water mark, so no
# sample can miss a spike), in MiB.
peak_rss_mib() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' /proc/"$1"/status; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' /proc/"$1"/status; }

# thread_wakeups PID SECONDS: context switches per thread name over SECONDS (the busiest first).
thread_wakeups() {
  local pid=$1 t
  declare -A before
  for t in /proc/"$pid"/task/*; do before[$t]=$(awk '/ctxt_switches/ {s += $2} END {print s+0}' "$t/status" 2>/dev/null); done
  sleep "$2"
  for t in /proc/"$pid"/task/*; do
    echo "$(( $(awk '/ctxt_switches/ {s += $2} END {print s+0}' "$t/status" 2>/dev/null || echo 0) - ${before[$t]:-0} )) $(cat "$t/comm" 2>/dev/null)"
  done | sort -rn | awk '$1 > 0' | head -8 | paste -sd, -
}

# bench_netbench: compiles bench/tools/netbench.c into $NETBENCH (see its header for the commands).
bench_netbench() {
  NETBENCH="$BENCH_DIR/netbench"
  cc -O2 -o "$NETBENCH" "$ROOT/bench/tools/netbench.c"
}
# bench_netbench_server NS PORT: a netbench server in namespace NS (echo PORT, sink PORT+1, source PORT+2).
bench_netbench_server() {
  ip netns exec "$1" "$NETBENCH" serve "$2" > "$BENCH_DIR/netbench-$2.log" 2>&1 &
  BENCH_PIDS+=($!)
  for _ in $(seq 50); do grep -q ready "$BENCH_DIR/netbench-$2.log" && return 0; sleep 0.1; done
  echo "netbench server did not start" >&2; return 1
}

# The anchor's WireGuard client: wireguard-go in the client namespace as 10.66.0.2, peered with the router
# of bench_wireguard_router (needs $WGC, $router_pub, $BENCH_DIR/client.key); waits until the tunnel answers.
start_wg_client() {
  ip netns exec "$CLIENT" wireguard-go -f "$WGC" > /dev/null 2>&1 &
  WGC_PID=$!; BENCH_PIDS+=("$WGC_PID")
  wait_wg_device "$CLIENT" "$WGC"
  ip netns exec "$CLIENT" wg set "$WGC" private-key "$BENCH_DIR/client.key" peer "$router_pub" allowed-ips 10.66.0.0/24 endpoint 10.200.0.1:51820
  ip -n "$CLIENT" addr add 10.66.0.2/24 dev "$WGC"
  ip -n "$CLIENT" link set "$WGC" mtu 1420 up
  for _ in $(seq 50); do ip netns exec "$CLIENT" ping -c 1 -W 1 10.66.0.1 > /dev/null 2>&1 && break; sleep 0.1; done
}
stop_wg_client() { kill "$WGC_PID"; wait "$WGC_PID" 2>/dev/null || true; sleep 0.3; }

# The DNS benchmarks' peers: the upstream, a dnsmasq in the router namespace answering *.bench.example with
# 203.0.113.10 and a 1 h TTL (its own --address answers are TTL 0 by default, which no cache keeps), and the anchor,
# a caching dnsmasq on 127.0.0.53 in the client namespace that forwards to it.
bench_dns_peers() {
  ip netns exec "$ROUTER" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=10.200.0.1 \
    --address=/bench.example/203.0.113.10 --local-ttl=3600 --pid-file="$BENCH_DIR/upstream.pid" > /dev/null 2>&1 &
  BENCH_PIDS+=($!)
  ip netns exec "$CLIENT" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.53 \
    --server=10.200.0.1 --cache-size=10000 --pid-file="$BENCH_DIR/anchor.pid" > /dev/null 2>&1 &
  BENCH_PIDS+=($!)
}
