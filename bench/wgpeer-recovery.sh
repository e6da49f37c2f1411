#!/usr/bin/env bash
# WireGuard recovery after the peer restarts (issue 17, the soak's `wgpeer` fault), Sluice vs wireguard-go as the
# client, in alternating rounds of one run. Each round: the client (wireguard-go with `persistent-keepalive 5`, or
# Sluice `run` with the soak's WireGuard endpoint, keepalive 5 s) carries a UDP echo (every 50 ms) and a TCP stream
# (the soak app's: 3 s timeouts, reconnect after 0.2 s) to 10.66.0.1 behind the router's wireguard-go; after 8 s of
# traffic the router's wireguard-go is killed (-9) and started again with the same key, exactly as bench/soak.sh
# does (its servers too). tshark on the client's eth0 timestamps every handshake initiation the client sends.
# Per round it prints, in seconds after the kill: when the restarted peer was up (the soak's fault end), the client's
# first initiation after the kill, the first UDP echo answered, the first TCP bytes; and the UDP/TCP recovery after
# the fault end (what the soak counts). The protocol's floor: the peer that restarted forgot the session and has no
# endpoint for the client, so it sends nothing; the client notices only by its "no reply to data for
# KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (10 + 5 s, + up to 333 ms of jitter)" timer (whitepaper §6.2, §6.5).
#   bench/wgpeer-recovery.sh [ROUNDS]     (ROUNDS per client, default 3)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}
bench_wireguard_router
ip netns exec "$ROUTER" wg set "$WGR" peer "$client_pub" allowed-ips 10.66.0.2/32

cat > "$BENCH_DIR/servers.py" <<'PY'
import socket, threading
def stream(c):
    data = b"recovery-down " * 4096
    try:
        while True: c.sendall(data)
    except OSError: pass
    finally: c.close()
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.66.0.1", 5301)); s.listen(64)
    while True:
        c, _ = s.accept(); threading.Thread(target=stream, args=(c,), daemon=True).start()
def echo():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.66.0.1", 5303))
    while True:
        d, a = s.recvfrom(2048); s.sendto(d, a)
threading.Thread(target=tcp, daemon=True).start(); threading.Thread(target=echo, daemon=True).start()
print("ready", flush=True); threading.Event().wait()
PY
cat > "$BENCH_DIR/probe.py" <<'PY'
# Prints "udp T" for each echo answered and "tcp T" for each 100 ms in which the stream delivered bytes (epoch seconds).
import socket, sys, threading, time
out = sys.stdout; lock = threading.Lock()
def emit(kind, t):
    with lock: out.write("%s %.3f\n" % (kind, t)); out.flush()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.05)
    while True:
        try:
            s.sendto(b"probe", ("10.66.0.1", 5303)); s.recv(2048); emit("udp", time.time())
        except OSError: pass
        time.sleep(0.05)
def tcp():
    last = 0.0
    while True:
        try:
            c = socket.create_connection(("10.66.0.1", 5301), timeout=3); c.settimeout(3)
            while True:
                if not c.recv(65536): break
                t = time.time()
                if t - last >= 0.1: emit("tcp", t); last = t
        except OSError: time.sleep(0.2)
threading.Thread(target=udp, daemon=True).start(); threading.Thread(target=tcp, daemon=True).start()
threading.Event().wait()
PY
start_servers() { ip netns exec "$ROUTER" python3 "$BENCH_DIR/servers.py" > /dev/null 2>&1 & SERVERS_PID=$!; BENCH_PIDS+=($SERVERS_PID); sleep 0.3; }
start_servers
WG_ROUTER_PID=${BENCH_PIDS[0]}
restart_wg_peer() {  # bench/soak.sh's restart_wg_peer, without dnsmasq
  kill -9 "$WG_ROUTER_PID"; wait "$WG_ROUTER_PID" 2>/dev/null || true; sleep 0.5
  ip netns exec "$ROUTER" wireguard-go -f "$WGR" > /dev/null 2>&1 & WG_ROUTER_PID=$!; BENCH_PIDS+=($WG_ROUTER_PID)
  sleep 0.5
  ip netns exec "$ROUTER" wg set "$WGR" private-key "$BENCH_DIR/router.key" listen-port 51820 peer "$client_pub" allowed-ips 10.66.0.2/32
  ip -n "$ROUTER" addr add 10.66.0.1/24 dev "$WGR"; ip -n "$ROUTER" link set "$WGR" mtu 1420 up
  kill "$SERVERS_PID" 2>/dev/null || true; start_servers
}
SLUICE_CONFIG="{\"log\": {\"level\": \"info\"},
 \"inbounds\": [{\"type\": \"tun\", \"address\": [\"172.19.0.1/30\"], \"auto_route\": true}],
 \"endpoints\": [{\"type\": \"wireguard\", \"tag\": \"wg\", \"address\": [\"10.66.0.2/32\"], \"private_key\": \"$client_key\", \"mtu\": 1420,
   \"peers\": [{\"address\": \"10.200.0.1\", \"port\": 51820, \"public_key\": \"$router_pub\", \"allowed_ips\": [\"10.66.0.0/24\"], \"persistent_keepalive_interval\": 5}]}],
 \"route\": {\"rules\": [{\"ip_cidr\": \"10.66.0.0/24\", \"outbound\": \"wg\"}], \"final\": \"direct\"}}"

# Handshake initiations (message type 1) the client sends to the router.
ip netns exec "$CLIENT" tshark -i eth0 -l -f "udp dst port 51820 and udp[8] = 1" -T fields -e frame.time_epoch > "$BENCH_DIR/initiations" 2> "$BENCH_DIR/tshark.log" & BENCH_PIDS+=($!)
for _ in $(seq 300); do grep -q "Capturing on" "$BENCH_DIR/tshark.log" && break; sleep 0.1; done

echo "client kill->up kill->initiation kill->udp kill->tcp | up->udp up->tcp  (s; load: $(cut -d' ' -f1-3 /proc/loadavg))" > "$BENCH_DIR/rounds"
head -1 "$BENCH_DIR/rounds"
round() {  # $1: wireguard-go | sluice
  if [ "$1" = wireguard-go ]; then
    start_wg_client; ip netns exec "$CLIENT" wg set "$WGC" peer "$router_pub" persistent-keepalive 5
  else
    bench_start_sluice "$SLUICE_CONFIG"
  fi
  ip netns exec "$CLIENT" python3 -u "$BENCH_DIR/probe.py" > "$BENCH_DIR/probe.log" 2>&1 & local probe=$!; BENCH_PIDS+=($probe)
  sleep 8
  local kill_at up_at; kill_at=$(date +%s.%N); restart_wg_peer; up_at=$(date +%s.%N)
  for _ in $(seq 400); do  # until both streams flow again after the peer is up (at most 40 s)
    awk -v u="$up_at" '$2 > u {s[$1] = 1} END {exit !(s["udp"] && s["tcp"])}' "$BENCH_DIR/probe.log" && break; sleep 0.1
  done
  sleep 0.5; kill "$probe" 2>/dev/null || true
  if [ "$1" = wireguard-go ]; then stop_wg_client; else bench_stop_sluice; fi
  python3 - "$1" "$kill_at" "$up_at" "$BENCH_DIR/probe.log" "$BENCH_DIR/initiations" >> "$BENCH_DIR/rounds" <<'PY'
import sys
who, k, u = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
ev = [l.split() for l in open(sys.argv[4]) if len(l.split()) == 2]
first = lambda kind: next((float(t) for x, t in ev if x == kind and float(t) > u), None)
ini = next((float(l) for l in open(sys.argv[5]) if l.strip() and float(l) > k), None)
f = lambda v, base: "-" if v is None else "%.1f" % (v - base)
print(who, f(u, k), f(ini, k), f(first("udp"), k), f(first("tcp"), k), "|", f(first("udp"), u), f(first("tcp"), u))
PY
  tail -1 "$BENCH_DIR/rounds"
}
for i in $(seq "$ROUNDS"); do round wireguard-go; round sluice; done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$BENCH_DIR/rounds" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).readlines()[1:]]
print("median over rounds (s)      kill->up kill->initiation kill->udp kill->tcp | up->udp up->tcp")
for who in ("wireguard-go", "sluice"):
    rs = [r for r in rows if r[0] == who]
    cols = []
    for c in (1, 2, 3, 4, 6, 7):
        v = [float(r[c]) for r in rs if r[c] != "-"]
        cols.append("%.1f" % statistics.median(v) if v else "-")
    print(f"  {who:12} " + " ".join(cols[:4]) + " | " + " ".join(cols[4:]) + f"   ({len(rs)} rounds)")
PY
