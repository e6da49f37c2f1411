#!/usr/bin/env bash
# Soak with faults (issue 17): the daemon in the namespace testbed, gate mode all, one app streaming TCP
# through WireGuard, TCP through Shadowsocks, UDP through WireGuard and DNS (answered over the tunnel),
# plus 10,000 short TCP connections a minute, while faults are injected in turn:
#   flap     eth0 down 2 s, back with the other address (10.200.0.2 <-> .3) and the default route
#   kill9    kill -9 of the daemon (it hosts the engine); restarted after 1 s as Restart=always would
#   term     SIGTERM to the daemon, restarted after 1 s (it resumes the remembered config)
#   wgpeer   the router's wireguard-go killed and restarted with the same key
#   proxy    ss-server killed and restarted
#   dnsmute  the upstream DNS (dnsmasq behind the tunnel) stopped (SIGSTOP) for 30 s
#   junkwg   10 s of random datagrams to the client's WireGuard port (from the router)
#   junkdns  10 s of random datagrams and random-name queries to port 53 (hijacked to the engine's DNS), sent
#            as uid 65534: another user's app, with its own share of the DNS queries waiting for an upstream
# Two phases: for the first STEADY_MINUTES (default 16) only the faults that leave the daemon running (flap,
# junkwg, wgpeer, dnsmute, proxy, junkdns), so one daemon process lives through them and its RSS growth from
# the end of a WARMUP_MINUTES (5) warm-up to the end of the phase (>= 10 min of samples, one every 10 s) is a
# steady-state figure; then every fault in turn, the daemon restarts (term, kill9) first.
# The oracle is tshark on the client's eth0: a leak is any frame to the app's destinations in the clear
# (203.0.113.10, 10.66.0.0/24), with its payload marker, or a DNS question for its names. A 3 s positive
# control before the engine starts shows the oracle sees the app. Prints: leaks, % of seconds each stream
# flowed outside the injected faults, recovery after each fault (p50/max), the daemon's RSS and fds
# (first and last sample of the longest-lived daemon process), unhandled exceptions in its log.
# The steady phase's growth also by figures that do not depend on where the GC's sawtooth is (RSS every second:
# least-squares slope, per-minute tops and troughs, the floors after deep collections; bench/README.md, branch soak9).
# After the oracle stops, the anchor of the wgpeer fault: wireguard-go as the client, same restart (ANCHOR_ROUNDS).
# Needs root, wireguard-go, ss-server, dnsmasq, tshark and a Release build.   bench/soak.sh [MINUTES]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MINUTES=${1:-30}
FAULT_EVERY=${FAULT_EVERY:-60}   # seconds between fault starts (the issue: every minute)
STEADY_MINUTES=${STEADY_MINUTES:-16}; WARMUP_MINUTES=${WARMUP_MINUTES:-5}; SAMPLE_EVERY=10
[ "$STEADY_MINUTES" -le "$MINUTES" ] || STEADY_MINUTES=$MINUTES
SS_PORT=8388; SS_PASSWORD=soak-password; CLIENT_WG_PORT=51900
bench_wireguard_router
pkill_pid() { kill "$@" 2>/dev/null || true; }
for ns in "$CLIENT" "$ROUTER"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"; done

cat > "$BENCH_DIR/servers.py" <<'PY'
import socket, sys, threading
host = sys.argv[1]
def stream(c):
    data = b"soak-app-down " * 4096
    try:
        while True: c.sendall(data)
    except OSError: pass
    finally: c.close()
def tiny(c):
    try: c.sendall(b"x")
    except OSError: pass
    finally: c.close()
def tcp(port, handler):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, port)); s.listen(4096)
    while True:
        c, _ = s.accept(); threading.Thread(target=handler, args=(c,), daemon=True).start()
def echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((host, port))
    while True:
        d, a = s.recvfrom(2048); s.sendto(d, a)
for p, h in ((5301, stream), (5304, tiny)): threading.Thread(target=tcp, args=(p, h), daemon=True).start()
threading.Thread(target=echo, args=(5303,), daemon=True).start()
print("ready", flush=True); threading.Event().wait()
PY

cat > "$BENCH_DIR/app.py" <<'PY'
# The protected app: four streams, one line per second: epoch tcp_wg_bytes tcp_ss_bytes udp_replies dns_answers conns_ok conns_failed
import random, socket, struct, sys, threading, time
WG, PROXIED, DNS, RATE = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
count = {"wg": 0, "ss": 0, "udp": 0, "dns": 0, "ok": 0, "fail": 0}
lock = threading.Lock()
def add(k, n):
    with lock: count[k] += n
def tcp_stream(key, host, port):
    while True:
        try:
            c = socket.create_connection((host, port), timeout=3); c.settimeout(3); c.sendall(b"soak-app-up\n")
            while True:
                n = len(c.recv(65536))
                if not n: break
                add(key, n)
        except OSError: time.sleep(0.2)
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
    while True:
        try:
            s.sendto(b"soak-app-udp", (WG, 5303)); s.recv(2048); add("udp", 1)
        except OSError: pass
        time.sleep(0.1)
def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
    while True:
        name = "q%d.soak.test" % random.randrange(1 << 30)
        q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
        q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
        try:
            s.sendto(q, (DNS, 53)); r = s.recv(2048)
            if struct.unpack(">H", r[6:8])[0] > 0: add("dns", 1)
        except OSError: pass
        time.sleep(0.2)
THREADS = 16
def shorts():
    gap = 60.0 * THREADS / RATE  # RATE connections a minute across all threads
    while True:
        t = time.monotonic()
        try:
            c = socket.create_connection((WG, 5304), timeout=2); c.recv(1); c.close(); add("ok", 1)
        except OSError: add("fail", 1)
        time.sleep(max(0, gap - (time.monotonic() - t)))
for f, a in ((tcp_stream, ("wg", WG, 5301)), (tcp_stream, ("ss", PROXIED, 5301)), (udp, ()), (dns, ())):
    threading.Thread(target=f, args=a, daemon=True).start()
for _ in range(THREADS): threading.Thread(target=shorts, daemon=True).start()
while True:
    time.sleep(1 - time.time() % 1)
    with lock:
        line = "%d %d %d %d %d %d %d" % (int(time.time()), count["wg"], count["ss"], count["udp"], count["dns"], count["ok"], count["fail"])
        for k in count: count[k] = 0
    print(line, flush=True)
PY

cp "$ROOT/bench/tools/junk.py" "$BENCH_DIR/junk.py"  # the floods (junkwg, junkdns)

# The router's side: the stream/echo/tiny servers on the tunnel address and behind ss-server, dnsmasq on the tunnel address.
ip -n "$ROUTER" addr add "$SERVER_V4/32" dev lo 2>/dev/null || true
start_servers() { ip netns exec "$ROUTER" python3 "$BENCH_DIR/servers.py" "$1" > "$BENCH_DIR/servers-$2.log" 2>&1 & BENCH_PIDS+=($!); }
start_servers 10.66.0.1 wg
start_servers "$SERVER_V4" ss
start_ss() { ip netns exec "$ROUTER" ss-server -s 10.200.0.1 -p $SS_PORT -k $SS_PASSWORD -m aes-128-gcm > "$BENCH_DIR/ss-server.log" 2>&1 & SS_PID=$!; BENCH_PIDS+=($SS_PID); }
start_ss
ip netns exec "$ROUTER" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=10.66.0.1 --bind-interfaces \
  --address=/soak.test/10.66.0.1 --user=root --pid-file > "$BENCH_DIR/dnsmasq.log" 2>&1 & DNSMASQ_PID=$!; BENCH_PIDS+=($DNSMASQ_PID)
WG_ROUTER_PID=${BENCH_PIDS[0]}
ip netns exec "$ROUTER" wg set "$WGR" peer "$client_pub" allowed-ips 10.66.0.2/32,172.19.0.0/30
restart_wg_peer() {
  kill -9 "$WG_ROUTER_PID"; sleep 0.5
  ip netns exec "$ROUTER" wireguard-go -f "$WGR" > /dev/null 2>&1 & WG_ROUTER_PID=$!; BENCH_PIDS+=($WG_ROUTER_PID)
  sleep 0.5
  ip netns exec "$ROUTER" wg set "$WGR" private-key "$BENCH_DIR/router.key" listen-port 51820 peer "$client_pub" allowed-ips 10.66.0.2/32
  ip -n "$ROUTER" addr add 10.66.0.1/24 dev "$WGR"; ip -n "$ROUTER" link set "$WGR" mtu 1420 up
  # The servers bound 10.66.0.1, which went with the device: start them again.
  start_servers 10.66.0.1 wg
  pkill_pid "$DNSMASQ_PID"
  ip netns exec "$ROUTER" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --listen-address=10.66.0.1 --bind-interfaces \
    --address=/soak.test/10.66.0.1 --user=root --pid-file >> "$BENCH_DIR/dnsmasq.log" 2>&1 & DNSMASQ_PID=$!; BENCH_PIDS+=($DNSMASQ_PID)
}

cat > "$BENCH_DIR/config.json" <<JSON
{"log": {"level": "info"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420, "listen_port": $CLIENT_WG_PORT,
   "peers": [{"address": "10.200.0.1", "port": 51820, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"], "persistent_keepalive_interval": 5}]}],
 "outbounds": [{"type": "direct", "tag": "direct"},
   {"type": "shadowsocks", "tag": "ss", "server": "10.200.0.1", "server_port": $SS_PORT, "method": "aes-128-gcm", "password": "$SS_PASSWORD"}],
 "dns": {"servers": [{"type": "udp", "tag": "tunnel", "server": "10.66.0.1", "detour": "wg"}], "final": "tunnel"},
 "route": {"rules": [{"port": 53, "action": "hijack-dns"}, {"ip_cidr": "10.66.0.0/24", "outbound": "wg"}, {"ip_cidr": "$SERVER_V4/32", "outbound": "ss"}], "final": "direct"},
 "gate": {"mode": "all", "cgroup": "sluice-soak-$$/protected"}}
JSON
DAEMON_DIR="$BENCH_DIR/daemon"; mkdir -p "$DAEMON_DIR"; touch "$BENCH_DIR/daemon.log"
start_daemon() {
  local before; before=$(wc -l < "$BENCH_DIR/daemon.log" 2>/dev/null || echo 0)
  ip netns exec "$CLIENT" "${SLUICE[@]}" daemon --socket "$DAEMON_DIR/sluice.sock" --secret-file "$DAEMON_DIR/secret" \
    --state-dir "$DAEMON_DIR/state" >> "$BENCH_DIR/daemon.log" 2>&1 & DAEMON_PID=$!; BENCH_PIDS+=($DAEMON_PID)
  echo "$(date +%s) $DAEMON_PID" >> "$BENCH_DIR/daemon-pids"
  for _ in $(seq 600); do [ -S "$DAEMON_DIR/sluice.sock" ] && tail -n +"$((before + 1))" "$BENCH_DIR/daemon.log" | grep -q "daemon ready" && return 0; sleep 0.1; done
  echo "the daemon did not start" >&2; tail -20 "$BENCH_DIR/daemon.log" >&2; return 1
}
core() { ip netns exec "$CLIENT" curl -sS --max-time 60 --unix-socket "$DAEMON_DIR/sluice.sock" -X POST -H 'Content-Type: application/json' -d "$1" http://localhost/api/core; }

# The oracle, its positive control (the app with no engine and no gate), then the engine.
# The two encrypted lanes (WireGuard to :51820, Shadowsocks to :8388 of the router) are what should leave:
# they are left out of the capture, which keeps it small; every other frame on eth0 is kept whole.
ip netns exec "$CLIENT" tshark -i eth0 -f "not (host 10.200.0.1 and (udp port 51820 or tcp port 8388))" -w "$BENCH_DIR/wire.pcapng" -q > "$BENCH_DIR/tshark.log" 2>&1 & TSHARK_PID=$!; BENCH_PIDS+=($TSHARK_PID)
# tshark says "Capturing on" once it captures (seconds on a loaded machine): the control waits for it.
for _ in $(seq 300); do grep -q "Capturing on" "$BENCH_DIR/tshark.log" && break; sleep 0.1; done
grep -q "Capturing on" "$BENCH_DIR/tshark.log" || { echo "tshark never started capturing: $(cat "$BENCH_DIR/tshark.log")" >&2; exit 1; }
ip netns exec "$CLIENT" python3 -u "$BENCH_DIR/app.py" 10.66.0.1 "$SERVER_V4" 10.200.0.1 10000 > "$BENCH_DIR/app.log" 2>&1 & APP_PID=$!; BENCH_PIDS+=($APP_PID)
sleep 5
CONTROL_END=$(date +%s.%N)
kill "$APP_PID"; sleep 0.5
rm -f "$DAEMON_DIR/sluice.sock"
start_daemon
core "{\"action\":\"up\",\"params\":{\"config_path\":\"$BENCH_DIR/config.json\"}}" > "$BENCH_DIR/up.json"
grep -q '"code":0' "$BENCH_DIR/up.json" || { echo "up failed: $(cat "$BENCH_DIR/up.json")" >&2; exit 1; }
ENGINE_UP=$(date +%s.%N)
ip netns exec "$CLIENT" python3 -u "$BENCH_DIR/app.py" 10.66.0.1 "$SERVER_V4" 10.200.0.1 10000 > "$BENCH_DIR/app.log" 2>&1 & APP_PID=$!; BENCH_PIDS+=($APP_PID)

sample() {  # epoch pid rss_kib fds, and in samples-gc: epoch pid gc_heap_kib gc_committed_kib udp_sessions heap_after_full_gc_kib allocated_mib (/metrics)
  local pid=$DAEMON_PID
  [ -d "/proc/$pid" ] || return 0
  echo "$(date +%s) $pid $(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0) $(ls "/proc/$pid/fd" 2>/dev/null | wc -l)" >> "$BENCH_DIR/samples"
  ip netns exec "$CLIENT" curl -sS --max-time 2 --unix-socket "$DAEMON_DIR/sluice.sock" http://localhost/metrics 2>/dev/null \
    | awk -v t="$(date +%s)" -v p="$pid" '/^sluice_daemon_gc_heap_bytes / {h = $2} /^sluice_daemon_gc_committed_bytes / {c = $2} /^sluice_udp_sessions / {n = $2}
        /^sluice_daemon_gc_heap_after_full_bytes / {f = $2} /^sluice_daemon_allocated_bytes_total / {a = $2}
        END {if (h != "") printf "%d %d %d %d %d %d %d\n", t, p, h / 1024, c / 1024, n, f / 1024, a / 1048576}' >> "$BENCH_DIR/samples-gc" || true
}
# RSS once a second of whichever daemon runs (the last in daemon-pids), in samples-rss: epoch pid rss_kib. The 10 s
# samples above land anywhere on the GC's sawtooth (50 -> 62 MiB and back within a minute or two); the robust growth
# figures below need every second. Bash builtins only, so the sampler itself costs nothing the daemon would notice.
rss_sampler() {
  local t pid k v _
  while :; do
    read -r _ pid < <(tail -n 1 "$BENCH_DIR/daemon-pids")
    while read -r k v _; do [ "$k" = "VmRSS:" ] && { printf -v t '%(%s)T' -1; echo "$t $pid $v"; break; }; done 2>/dev/null < "/proc/$pid/status" || true
    sleep 1
  done >> "$BENCH_DIR/samples-rss"
}
rss_sampler & BENCH_PIDS+=($!)
address=2
fault() {  # records "name start end" in faults
  local name=$1 start; start=$(date +%s)
  case "$name" in
    flap)
      ip -n "$CLIENT" link set eth0 down; sleep 2
      ip -n "$CLIENT" addr flush dev eth0; address=$((5 - address)); ip -n "$CLIENT" addr add "10.200.0.$address/24" dev eth0
      # "dev eth0": without it the kernel resolves the gateway through the policy rules, i.e. via the TUN (auto_route's
      # "not fwmark" rule comes first), and the main table's default then loops the engine's own marked traffic into the TUN.
      ip -n "$CLIENT" link set eth0 up; ip -n "$CLIENT" route replace default via 10.200.0.1 dev eth0 ;;
    kill9) kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; sleep 1; rm -f "$DAEMON_DIR/sluice.sock"; start_daemon ;;
    term)
      kill "$DAEMON_PID"
      for _ in $(seq 150); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$DAEMON_PID" 2>/dev/null; then  # systemd would SIGKILL it after TimeoutStopSec=15
        echo "  the daemon did not exit within 15 s of SIGTERM: kill -9"; echo "$(date +%s)" >> "$BENCH_DIR/term-hangs"; kill -9 "$DAEMON_PID"
      fi
      wait "$DAEMON_PID" 2>/dev/null || true; sleep 1; rm -f "$DAEMON_DIR/sluice.sock"; start_daemon ;;
    wgpeer) restart_wg_peer ;;
    proxy) kill -9 "$SS_PID"; sleep 0.5; start_ss ;;
    dnsmute) kill -STOP "$DNSMASQ_PID"; sleep 30; kill -CONT "$DNSMASQ_PID" ;;
    junkwg) ip netns exec "$ROUTER" python3 "$BENCH_DIR/junk.py" "10.200.0.$address" $CLIENT_WG_PORT 10 wg >> "$BENCH_DIR/junk.log" ;;
    junkdns)  # the script on stdin: uid 65534 cannot read the run's private directory (nor root's pyenv shims)
      ip netns exec "$CLIENT" setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - 10.200.0.1 53 10 dns < "$BENCH_DIR/junk.py" >> "$BENCH_DIR/junk.log" \
        || echo "  the junk DNS flood failed (see $BENCH_DIR/junk.log)" ;;
  esac
  echo "$name $start $(date +%s)" >> "$BENCH_DIR/faults"
}
# SOAK_STEADY_FAULTS / SOAK_FAULTS (space-separated) replace the lists, for short checks of one fault.
read -r -a STEADY_FAULTS <<< "${SOAK_STEADY_FAULTS:-flap junkwg wgpeer dnsmute proxy junkdns}"
read -r -a FAULTS <<< "${SOAK_FAULTS:-term kill9 flap junkwg wgpeer dnsmute proxy junkdns}"
START=$(date +%s); END=$(( START + MINUTES * 60 )); STEADY_END=$(( START + STEADY_MINUTES * 60 ))
next=$(( START + FAULT_EVERY / 2 )); i=$((RANDOM % ${#STEADY_FAULTS[@]})); j=0; last_sample=0
echo "$START $STEADY_END $(( START + WARMUP_MINUTES * 60 ))" > "$BENCH_DIR/phases"
echo "soak: $MINUTES min (the first $STEADY_MINUTES without daemon restarts), a fault every ${FAULT_EVERY}s; files in $BENCH_DIR; load $(cut -d' ' -f1-3 /proc/loadavg)"
while [ "$(date +%s)" -lt "$END" ]; do
  now=$(date +%s)
  if [ $(( now - last_sample )) -ge $SAMPLE_EVERY ]; then sample; last_sample=$now; fi
  if [ "$now" -ge "$next" ] && [ "$(( END - now ))" -gt 45 ]; then
    if [ "$now" -lt "$STEADY_END" ]; then
      # A steady-phase fault must end before the phase does (dnsmute takes 30 s).
      if [ $(( STEADY_END - now )) -gt 40 ]; then name=${STEADY_FAULTS[$((i % ${#STEADY_FAULTS[@]}))]}; i=$((i + 1)); else name=""; fi
    else
      name=${FAULTS[$((j % ${#FAULTS[@]}))]}; j=$((j + 1))
    fi
    if [ -n "$name" ]; then echo "  $(date +%T) fault $name"; fault "$name"; fi
    next=$(( $(date +%s) + FAULT_EVERY ))
  fi
  sleep 2
done
sample
kill "$APP_PID"; sleep 1; kill -INT "$TSHARK_PID"; wait "$TSHARK_PID" 2>/dev/null || true
core '{"action":"down"}' > /dev/null || true
# The gate's table goes with the namespace; the cgroup of this run is host-wide: removed here.
find /sys/fs/cgroup -depth -type d -path "*sluice-soak-$$*" -exec rmdir {} \; 2>/dev/null || true

# The anchor of the wgpeer fault (after the oracle stopped): wireguard-go as the client in the same namespace, its
# persistent keepalive 5 s like the engine's, the same app (its DNS asked of dnsmasq through the tunnel, since no
# engine hijacks port 53 now), the same router peer restart, ANCHOR_ROUNDS times (default 3, 0: none). The streams'
# recovery after these restarts is what the protocol's timers allow any client; the figures below add it to the
# wgpeer windows for the streams that ride the tunnel ("outside the faults and the recovery the anchor needs too").
ANCHOR_ROUNDS=${ANCHOR_ROUNDS:-3}
if [ "$ANCHOR_ROUNDS" -gt 0 ]; then
  kill "$DAEMON_PID" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true
  ip netns exec "$CLIENT" nft delete table inet sluice 2>/dev/null || true  # the gate outlives the engine by design
  start_wg_client; ip netns exec "$CLIENT" wg set "$WGC" peer "$router_pub" persistent-keepalive 5
  ip netns exec "$CLIENT" python3 -u "$BENCH_DIR/app.py" 10.66.0.1 "$SERVER_V4" 10.66.0.1 2000 > "$BENCH_DIR/anchor-app.log" 2>&1 & ANCHOR_APP=$!; BENCH_PIDS+=($ANCHOR_APP)
  echo "  anchor: wireguard-go as the client, $ANCHOR_ROUNDS peer restarts (load $(cut -d' ' -f1-3 /proc/loadavg))"
  for _ in $(seq "$ANCHOR_ROUNDS"); do
    sleep 12; start=$(date +%s); restart_wg_peer; echo "wgpeer $start $(date +%s)" >> "$BENCH_DIR/anchor-faults"; sleep 24
  done
  kill "$ANCHOR_APP"; stop_wg_client
fi

# The figures.
leak_filter="((ip.dst == $SERVER_V4 || ip.dst == 10.66.0.0/24) || frame contains \"soak-app\" || dns.qry.name contains \"soak\")"
control=$(tshark -r "$BENCH_DIR/wire.pcapng" -Y "$leak_filter && frame.time_epoch <= $CONTROL_END" -T fields -e frame.number 2>/dev/null | wc -l)
leaks=$(tshark -r "$BENCH_DIR/wire.pcapng" -Y "$leak_filter && frame.time_epoch >= $ENGINE_UP" -T fields -e frame.number 2>/dev/null | wc -l)
[ "$control" -gt 0 ] || echo "WARNING: the positive control saw nothing: the leak count below proves nothing"
python3 - "$BENCH_DIR" "$control" "$leaks" <<'PY'
import os, statistics, sys, re
d, control, leaks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start, steady_end, warm_end = map(int, open(d + "/phases").read().split())
rows = [list(map(int, l.split())) for l in open(d + "/app.log") if re.match(r"^\d+ ", l)]
faults = [(l.split()[0], int(l.split()[1]), int(l.split()[2])) for l in open(d + "/faults")] if __import__("os").path.exists(d + "/faults") else []
def in_fault(t, stream):
    for name, s, e in faults:
        if s <= t <= e and (name != "dnsmute" or stream == "dns") and (name != "proxy" or stream == "ss") and name not in ("junkwg", "junkdns"): return True
    return False
streams = {"tcp-wg": 1, "tcp-ss": 2, "udp-wg": 3, "dns": 4}
print(f"positive control: {control} app frames seen on eth0 in 5 s without engine or gate (must be > 0)")
print(f"leaked frames (app destinations in the clear, its marker, its DNS names) after the engine came up: {leaks}")
print(f"app seconds recorded: {len(rows)}")
flow_lines = []
for s, col in streams.items():
    outside = [r for r in rows if not in_fault(r[0], s)]
    flowing = sum(1 for r in outside if r[col] > 0)
    flow_lines.append((s, col, f"  {s:7} flowing in {flowing}/{len(outside)} s outside injected faults = {100 * flowing / max(1, len(outside)):.1f} %"))
rec = {}
def recovery(rows, e, cols):  # seconds from the fault's end to the first of 5 seconds in a row in which every stream of cols flowed
    # (in a row: the streams still move what was in flight in the second a wgpeer kill ends, DNS for 2-3 s, and then stop
    # for the protocol's 15 s; the first flowing second alone called that a 0 s recovery)
    ok = [r[0] for r in rows if r[0] >= e and all(r[c] > 0 for c in cols)]
    okset = set(ok)
    return next((t - e for t in ok if all(t + k in okset for k in range(1, 5))), None)
for name, s, e in faults: rec.setdefault(name, []).append(recovery(rows, e, streams.values()))
allr = [v for vs in rec.values() for v in vs if v is not None]
for name, vs in rec.items(): print(f"  recovery after {name}: {vs} s")
# The wgpeer fault, per stream that rides the tunnel, next to the anchor's (wireguard-go as the client, same fault).
tunnel = {"tcp-wg": 1, "udp-wg": 3, "dns": 4}
mine = {st: [recovery(rows, e, [c]) for n, s, e in faults if n == "wgpeer"] for st, c in tunnel.items()}
anchor = {}
if os.path.exists(d + "/anchor-faults"):
    arows = [list(map(int, l.split())) for l in open(d + "/anchor-app.log") if re.match(r"^\d+ ", l)]
    afaults = [(l.split()[0], int(l.split()[1]), int(l.split()[2])) for l in open(d + "/anchor-faults")]
    anchor = {st: [recovery(arows, e, [c]) for n, s, e in afaults] for st, c in tunnel.items()}
    print("  wgpeer recovery per stream, s after the fault ended (the fault: kill -9 of the router's wireguard-go .. it is up again):")
    for st in tunnel: print(f"    {st:7} sluice {mine[st]}, anchor wireguard-go {anchor[st]}")
    print(f"    anchor's fault windows: {[e - s for n, s, e in afaults]} s; sluice's: {[e - s for n, s, e in faults if n == 'wgpeer']} s")
    print("    the protocol's floor: the restarted peer forgot the session and has no endpoint for the client, so it sends nothing;")
    print("    the client starts a new handshake KEEPALIVE_TIMEOUT + REKEY_TIMEOUT = 15 s (+ <= 0.33 s jitter) after its data last")
    print("    got an answer (whitepaper 6.2), i.e. ~15 s after the kill; then TCP's own retry backoff (bench/wgpeer-recovery.sh splits it)")
# The allowance after each wgpeer fault: the anchor's longest recovery of the stream (what the protocol's timers leave any
# client; a restart costs either ~0 s or the 15 s floor, so a median of a few rounds says little).
allow = {st: max(v for v in vs if v is not None) for st, vs in anchor.items() if any(v is not None for v in vs)}
def in_allowance(t, stream):
    return stream in allow and any(n == "wgpeer" and e < t <= e + allow[stream] for n, s, e in faults)
for s, col, line in flow_lines:
    print(line)
    if s in allow:
        outside = [r for r in rows if not in_fault(r[0], s) and not in_allowance(r[0], s)]
        flowing = sum(1 for r in outside if r[col] > 0)
        print(f"  {'':7} and outside the anchor's longest wgpeer recovery too (+{allow[s]} s after each): {flowing}/{len(outside)} s = {100 * flowing / max(1, len(outside)):.1f} %")
ok = sum(r[5] for r in rows); fail = sum(r[6] for r in rows)
print(f"  short connections: {ok} ok, {fail} failed, {ok * 60 / max(1, len(rows)):.0f}/min")
if allr: print(f"recovery (all streams flowing again after the fault ended): p50 {statistics.median(allr)} s, max {max(allr)} s; never: {sum(v is None for vs in rec.values() for v in vs)}")
samples = [list(map(int, l.split())) for l in open(d + "/samples")]
by = {}
for t, pid, rss, fds in samples: by.setdefault(pid, []).append((t, rss, fds))
pid, ss = max(by.items(), key=lambda kv: kv[1][-1][0] - kv[1][0][0])
print(f"daemon processes: {len(by)}; longest-lived pid {pid} over {ss[-1][0] - ss[0][0]} s: RSS {ss[0][1] // 1024} -> {ss[-1][1] // 1024} MiB, fds {ss[0][2]} -> {ss[-1][2]}")
late = [x for x in ss if x[0] - ss[0][0] >= 300]
if len(late) > 1: print(f"  after its first 5 min: RSS {late[0][1] // 1024} -> {late[-1][1] // 1024} MiB ({100 * (late[-1][1] - late[0][1]) / late[0][1]:+.1f} %)")
print(f"  peak RSS of any daemon process: {max(x[2] for x in samples) // 1024} MiB")
# The steady phase: the daemon that lived through it (no restarts then), from the end of the warm-up to the phase's end.
first = samples[0][1]
steady = [(t, rss, fds) for t, p, rss, fds in samples if p == first and warm_end <= t <= steady_end]
if len(steady) > 12 and steady[-1][0] - steady[0][0] >= 300:
    a = statistics.median(x[1] for x in steady[:6]); b = statistics.median(x[1] for x in steady[-6:])
    print(f"steady phase (no daemon restarts), pid {first}, {steady[0][0] - start} s .. {steady[-1][0] - start} s after the start ({steady[-1][0] - steady[0][0]} s, {len(steady)} samples):")
    print(f"  RSS {steady[0][1] // 1024} -> {steady[-1][1] // 1024} MiB; median of the first and last minute {a / 1024:.1f} -> {b / 1024:.1f} MiB ({100 * (b - a) / a:+.1f} %); peak {max(x[1] for x in steady) // 1024} MiB; fds {steady[0][2]} -> {steady[-1][2]}")
    half = len(steady) // 2
    c = statistics.median(x[1] for x in steady[half - 3:half + 3])
    print(f"  RSS mid-phase (median of 6 samples) {c / 1024:.1f} MiB: growth first half {100 * (c - a) / a:+.1f} %, second half {100 * (b - c) / c:+.1f} %")
    print("  RSS by minute after the start (MiB): " + " ".join(f"{(t - start) // 60}:{rss // 1024}" for t, rss, _ in steady if (t - start) % 60 < 10))
    if os.path.exists(d + "/samples-gc"):
        gcs = [list(map(int, l.split())) for l in open(d + "/samples-gc") if len(l.split()) == 7]
        gcs = [(t, h, c, n, f, a) for t, p, h, c, n, f, a in gcs if p == first and warm_end <= t <= steady_end]
        if gcs:
            print("  by minute, MiB: managed heap / after the last full GC / GC committed, UDP sessions, MiB allocated so far: "
                  + " ".join(f"{(t - start) // 60}:{h // 1024}/{f // 1024}/{c // 1024},{n},{a}" for t, h, c, n, f, a in gcs if (t - start) % 60 < 10))
            print(f"  GC committed {gcs[0][2] // 1024} -> {gcs[-1][2] // 1024} MiB, heap {gcs[0][1] // 1024} -> {gcs[-1][1] // 1024} MiB, "
                  f"after the last full GC {gcs[0][4] // 1024} -> {gcs[-1][4] // 1024} MiB over the same samples")
    # Phase-independent growth (the first/last-minute medians above measure where the GC's sawtooth happened to be; the
    # goal is met only if these stay < 5 %): from the 1 s samples of the same daemon over the same window, (1) the
    # least-squares slope of RSS x the window's length / its mean RSS, (2) the tops and troughs (max and min of each
    # minute): the median of the first 3 minutes' vs the last 3 minutes', and the least-squares growth of each series.
    if os.path.exists(d + "/samples-rss"):
        ps = [tuple(map(int, l.split())) for l in open(d + "/samples-rss") if len(l.split()) == 3]
        ps = [(t, r) for t, p, r in ps if p == first and steady[0][0] <= t <= steady[-1][0]]
        def fit_growth(xy):  # the least-squares line's rise over the series' span, % of its mean
            n = len(xy); mx = sum(x for x, _ in xy) / n; my = sum(y for _, y in xy) / n
            sxx = sum((x - mx) ** 2 for x, _ in xy)
            slope = sum((x - mx) * (y - my) for x, y in xy) / sxx if sxx else 0.0
            return 100 * slope * (xy[-1][0] - xy[0][0]) / my, slope
        if len(ps) >= 240:
            g, slope = fit_growth(ps)
            mean = sum(r for _, r in ps) / len(ps)
            print(f"  robust: {len(ps)} RSS samples at 1 s ({ps[0][0] - start} .. {ps[-1][0] - start} s), mean {mean / 1024:.1f} MiB, "
                  f"min {min(r for _, r in ps) / 1024:.1f}, max {max(r for _, r in ps) / 1024:.1f}: least-squares slope "
                  f"{slope * 60 / 1024:+.3f} MiB/min = {g:+.1f} % over the window")
            mins = {}
            for t, r in ps: mins.setdefault((t - ps[0][0]) // 60, []).append(r)
            full = [(m, v) for m, v in sorted(mins.items()) if len(v) >= 45]  # whole minutes (the last may be partial)
            tops = [(m * 60, max(v)) for m, v in full]; troughs = [(m * 60, min(v)) for m, v in full]
            if len(full) >= 6:
                for label, ser in (("tops (max of each minute)", tops), ("troughs (min of each minute)", troughs)):
                    a3 = statistics.median(y for _, y in ser[:3]); b3 = statistics.median(y for _, y in ser[-3:])
                    print(f"  robust: {label}: first 3 min {a3 / 1024:.1f} -> last 3 min {b3 / 1024:.1f} MiB ({100 * (b3 - a3) / a3:+.1f} %), "
                          f"least-squares {fit_growth(ser)[0]:+.1f} %; per minute " + " ".join(f"{y / 1024:.0f}" for _, y in ser))
            # The troughs of single minutes are phase-bound too (a minute without a collection has a high one). The floor a
            # leak would lift is the RSS right after a deep collection (the trimmer's compacting one after a flood or a burst
            # of closed flows): each drop of >= 8 MiB below the top of the 30 s before it, its lowest sample in the 30 s after.
            floors, k = [], 0
            while k < len(ps):
                t, r = ps[k]
                before = [y for x, y in ps[max(0, k - 40):k] if t - 30 <= x < t]
                if before and max(before) - r >= 8 * 1024:
                    lo = min((p for p in ps[k:k + 40] if p[0] <= t + 30), key=lambda p: p[1]); floors.append(lo)
                    while k < len(ps) and ps[k][0] < lo[0] + 60: k += 1
                    continue
                k += 1
            if len(floors) >= 3:
                print(f"  robust: floors after the deep collections ({len(floors)}): " + " ".join(f"{x - start}s:{y / 1024:.1f}" for x, y in floors)
                      + f" MiB; first -> last {100 * (floors[-1][1] - floors[0][1]) / floors[0][1]:+.1f} %, least-squares {fit_growth(floors)[0]:+.1f} %")
    print("  faults of the phase (s after the start): " + " ".join(f"{n}@{s - start}" for n, s, e in faults if s < steady_end))
else:
    print(f"steady phase too short for a growth figure ({len(steady)} samples of pid {first} after the warm-up)")
PY
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "SIGTERMs the daemon did not exit from within 15 s: $(cat "$BENCH_DIR/term-hangs" 2>/dev/null | wc -l)"
echo "unhandled exceptions in the daemon log: $(grep -c -i 'unhandled exception' "$BENCH_DIR/daemon.log" || true)"
echo "DNS pending-cap warnings (owner filled its share / the total): $(grep -c 'filled its own share' "$BENCH_DIR/daemon.log" || true) / $(grep -c 'filled the total' "$BENCH_DIR/daemon.log" || true); the last: $(grep -o 'DNS queries waiting for an upstream are at the limit.*' "$BENCH_DIR/daemon.log" | tail -1)"
echo "daemon log warnings (top 5):"; grep -E '\b(warn|fail|crit)' "$BENCH_DIR/daemon.log" | sed -E 's/^[^ ]+ //' | cut -c1-110 | sort | uniq -c | sort -rn | head -5 || true
