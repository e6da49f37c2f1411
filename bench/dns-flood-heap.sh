#!/usr/bin/env bash
# What the soak's junk-DNS flood leaves on the managed heap (issue 17), without the rest of the soak: the daemon in
# the WireGuard testbed with the soak's DNS set-up (port 53 hijacked to the built-in server, whose only upstream is a
# dnsmasq behind the tunnel; random names, TTL 0 or REFUSED, so nothing is ever a cache hit), an app asking a random
# name every 0.2 s and echoing UDP through the tunnel, then FLOODS junk floods of SECONDS each (random datagrams and
# random-name queries to port 53 from uid 65534, the soak's junk.py), PAUSE s apart.
# Before the first flood and PAUSE s after each, a heap dump (dotnet-gcdump: it forces a full collection) gives the
# live heap and the types that hold it; /metrics' "heap after the last full GC" is read right after.
# Needs root, wireguard-go, dnsmasq, dotnet-gcdump (JIT build only: gcdump speaks EventPipe).
#   bench/dns-flood-heap.sh [FLOODS] [SECONDS] [PAUSE]        (defaults 3, 10, 40)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
FLOODS=${1:-3}; SECONDS_PER_FLOOD=${2:-10}; PAUSE=${3:-40}
GCDUMP=${GCDUMP:-$(command -v dotnet-gcdump || echo "$HOME/.dotnet/tools/dotnet-gcdump")}
[ -x "$GCDUMP" ] || { echo "dotnet-gcdump not found: dotnet tool install -g dotnet-gcdump" >&2; exit 1; }
[ -z "${SLUICE_BINARY:-}" ] || { echo "a JIT build is needed (dotnet-gcdump cannot read a NativeAOT process): unset SLUICE_BINARY" >&2; exit 1; }
bench_wireguard_router
ip netns exec "$ROUTER" wg set "$WGR" peer "$client_pub" allowed-ips 10.66.0.2/32,172.19.0.0/30
ip netns exec "$ROUTER" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=10.66.0.1 --bind-interfaces \
  --address=/soak.test/10.66.0.1 --user=root --pid-file > "$BENCH_DIR/dnsmasq.log" 2>&1 & BENCH_PIDS+=($!)
cat > "$BENCH_DIR/echo.py" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.66.0.1", 5303))
while True:
    d, a = s.recvfrom(2048); s.sendto(d, a)
PY
ip netns exec "$ROUTER" python3 "$BENCH_DIR/echo.py" > /dev/null 2>&1 & BENCH_PIDS+=($!)
cat > "$BENCH_DIR/app.py" <<'PY'
import random, socket, struct, threading, time
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
    while True:
        try: s.sendto(b"app-udp", ("10.66.0.1", 5303)); s.recv(2048)
        except OSError: pass
        time.sleep(0.1)
threading.Thread(target=udp, daemon=True).start()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
while True:
    name = "q%d.soak.test" % random.randrange(1 << 30)
    q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    try: s.sendto(q, ("10.200.0.1", 53)); s.recv(2048)
    except OSError: pass
    time.sleep(0.2)
PY
cat > "$BENCH_DIR/config.json" <<JSON
{"log": {"level": "info"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420,
   "peers": [{"address": "10.200.0.1", "port": 51820, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"], "persistent_keepalive_interval": 5}]}],
 "outbounds": [{"type": "direct", "tag": "direct"}],
 "dns": {"servers": [{"type": "udp", "tag": "tunnel", "server": "10.66.0.1", "detour": "wg"}], "final": "tunnel"},
 "route": {"rules": [{"port": 53, "action": "hijack-dns"}, {"ip_cidr": "10.66.0.0/24", "outbound": "wg"}], "final": "direct"}}
JSON
DAEMON_DIR="$BENCH_DIR/daemon"; mkdir -p "$DAEMON_DIR"
ip netns exec "$CLIENT" "${SLUICE[@]}" daemon --socket "$DAEMON_DIR/sluice.sock" --secret-file "$DAEMON_DIR/secret" \
  --state-dir "$DAEMON_DIR/state" > "$BENCH_DIR/daemon.log" 2>&1 & DAEMON_PID=$!; BENCH_PIDS+=($DAEMON_PID)
for _ in $(seq 600); do [ -S "$DAEMON_DIR/sluice.sock" ] && grep -q "daemon ready" "$BENCH_DIR/daemon.log" && break; sleep 0.1; done
api() { ip netns exec "$CLIENT" curl -sS --max-time 60 --unix-socket "$DAEMON_DIR/sluice.sock" "$@"; }
api -X POST -H 'Content-Type: application/json' -d "{\"action\":\"up\",\"params\":{\"config_path\":\"$BENCH_DIR/config.json\"}}" http://localhost/api/core > "$BENCH_DIR/up.json"
grep -q '"code":0' "$BENCH_DIR/up.json" || { echo "up failed: $(cat "$BENCH_DIR/up.json")" >&2; tail -20 "$BENCH_DIR/daemon.log" >&2; exit 1; }
ip netns exec "$CLIENT" python3 -u "$BENCH_DIR/app.py" > /dev/null 2>&1 & BENCH_PIDS+=($!)

# heap TAG: a dump (a full collection), its total and top types, and the /metrics figures after it.
heap() {
  "$GCDUMP" collect -p "$DAEMON_PID" -o "$BENCH_DIR/$1.gcdump" > "$BENCH_DIR/$1.collect.log" 2>&1 || { echo "gcdump failed: $(tail -3 "$BENCH_DIR/$1.collect.log")"; return 0; }
  "$GCDUMP" report "$BENCH_DIR/$1.gcdump" > "$BENCH_DIR/$1.report" 2>&1 || true
  local m; m=$(api http://localhost/metrics 2>/dev/null)
  printf '%-10s load %s  RSS %s MiB  after full GC %s MiB  committed %s MiB  udp sessions %s\n' "$1" "$(cut -d' ' -f1 /proc/loadavg)" "$(rss_mib "$DAEMON_PID")" \
    "$(awk '/^sluice_daemon_gc_heap_after_full_bytes / {printf "%.1f", $2 / 1048576}' <<< "$m")" \
    "$(awk '/^sluice_daemon_gc_committed_bytes / {printf "%.1f", $2 / 1048576}' <<< "$m")" "$(awk '/^sluice_udp_sessions / {print $2}' <<< "$m")"
  echo "    threads $(ls /proc/"$DAEMON_PID"/task | wc -l); $(python3 "$ROOT/bench/tools/rss-breakdown.py" "$DAEMON_PID" sluice)"
  # the live heap, and the largest rows of the report (per type: the bytes of one object, the count)
  grep -E 'GC Heap (bytes|objects)' "$BENCH_DIR/$1.report" | sed 's/^ */    /'
  grep -E '^ +[0-9,]+ +[0-9,]+ ' "$BENCH_DIR/$1.report" | sort -t' ' -k1 | awk '{gsub(",", "", $1); gsub(",", "", $2); printf "    %8.1f KiB  %6d  %s\n", $1 * $2 / 1024, $2, $3" "$4" "$5}' | sort -rn | head -8 || true
}
junk_py="$ROOT/bench/tools/junk.py"
sleep 20
heap before
for f in $(seq "$FLOODS"); do
  ip netns exec "$CLIENT" setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - 10.200.0.1 53 "$SECONDS_PER_FLOOD" dns < "$junk_py" > "$BENCH_DIR/junk-$f.log" 2>&1 || true
  echo "flood $f: $(cat "$BENCH_DIR/junk-$f.log") datagrams; dropped at the owner cap so far: $(grep -o '[0-9]* dropped so far' "$BENCH_DIR/daemon.log" | tail -1)"
  sleep "$PAUSE"
  heap "after-$f"
done
echo "daemon log warnings: $(grep -cE '\b(warn|fail)' "$BENCH_DIR/daemon.log" || true); reports in $BENCH_DIR (BENCH_KEEP=1 keeps them)"
